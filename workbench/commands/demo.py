"""``workbench demo``: the end-to-end pipeline on sample_data/ with the embedded models."""

from __future__ import annotations

import sys
from pathlib import Path

from workbench.commands.run import add_run_arguments


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the end-to-end demo on sample_data/ (clean, augment, train, evaluate, report)")
    p.add_argument("--runfile", help="run a different demo run file (default: sample_data/demo.toml)")
    add_run_arguments(p)
    p.set_defaults(func=run)


def demo_runfile() -> Path:
    """The demo run file shipped beside the sample data."""
    import workbench

    return Path(workbench.__file__).resolve().parent.parent / "sample_data" / "demo.toml"


def run(args) -> int:
    from workbench.commands.run import execute_and_report
    from workbench.errors import WorkbenchError
    from workbench.runtime.runfile import load_runfile

    path = Path(args.runfile) if args.runfile else demo_runfile()
    if not path.exists():
        raise WorkbenchError(f"demo run file {path} not found", hint="run from a checkout of the Workbench repository")
    rf = load_runfile(path)
    print(f"workbench demo: {len(rf.steps)} steps from {path}", file=sys.stderr)
    execute_and_report(rf, args)
    return 0
