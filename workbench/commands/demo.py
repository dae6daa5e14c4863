"""``workbench demo``: the end-to-end pipeline on sample_data/ with the embedded models."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the end-to-end demo on sample_data/ (clean, augment, train, evaluate, report)")
    p.add_argument("--runs-dir", help="folder that holds run folders (default: $WORKBENCH_RUNS or ./runs)")
    p.add_argument("--runfile", help="run a different demo run file (default: sample_data/demo.toml)")
    p.add_argument("--force", action="store_true", help="re-run every step")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run)


def demo_runfile() -> Path:
    """The demo run file shipped beside the sample data."""
    import workbench

    return Path(workbench.__file__).resolve().parent.parent / "sample_data" / "demo.toml"


def run(args) -> int:
    from workbench.engine import execute
    from workbench.errors import WorkbenchError
    from workbench.runfile import load_runfile

    path = Path(args.runfile) if args.runfile else demo_runfile()
    if not path.exists():
        raise WorkbenchError(f"demo run file {path} not found", hint="run from a checkout of the Workbench repository")
    rf = load_runfile(path)

    def on_step(step) -> None:
        m = step.manifest
        how = "reused" if step.reused else f"{m['seconds']:.1f}s"
        print(f"  {m['name']:<34} rows {m['rows_in']:>5} -> {m['rows_out']:>5} "
              f"(+{m['added']} -{m['dropped']} ~{m['changed']})  {how}", file=sys.stderr)

    print(f"workbench demo: {len(rf.steps)} steps from {path}", file=sys.stderr)
    outcome = execute(rf, runs_dir=args.runs_dir, show_progress=not args.json, force=args.force, on_step=on_step)
    summary = {"run_dir": str(outcome.run_dir), "steps": [s.manifest["name"] for s in outcome.steps],
               "artifacts": outcome.artifacts}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"demo finished: {outcome.run_dir}")
        for name, value in sorted(outcome.artifacts.items()):
            print(f"  {name}: {value}")
    return 0
