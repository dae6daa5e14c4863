"""``workbench run RUN.toml``: execute a run file."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("run", help="execute a run file (re-uses finished steps, resumes interrupted runs)")
    p.add_argument("runfile", help="path of the TOML run file")
    p.add_argument("--runs-dir", help="folder that holds run folders (default: $WORKBENCH_RUNS or ./runs)")
    p.add_argument("--force", action="store_true", help="re-run every step even when its inputs are unchanged")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.engine import execute
    from workbench.runfile import load_runfile

    rf = load_runfile(args.runfile)

    def on_step(step) -> None:
        if not args.json:
            m = step.manifest
            how = "reused" if step.reused else f"{m['seconds']:.1f}s"
            print(f"{m['name']:<32} in {m['rows_in']:>7} out {m['rows_out']:>7} +{m['added']} -{m['dropped']} "
                  f"~{m['changed']}  ({how})", file=sys.stderr)

    outcome = execute(rf, runs_dir=args.runs_dir, show_progress=not args.json, force=args.force, on_step=on_step)
    if args.json:
        print(json.dumps({"run_dir": str(outcome.run_dir), "steps": [s.manifest | {"reused": s.reused} for s in outcome.steps],
                          "artifacts": outcome.artifacts}, indent=2, default=str))
    else:
        print(f"run finished: {outcome.run_dir}")
    return 0
