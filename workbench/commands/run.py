"""``workbench run RUN.toml``: execute a run file."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("run", help="execute a run file (re-uses finished steps, resumes interrupted runs)")
    p.add_argument("runfile", help="path of the TOML run file")
    add_run_arguments(p)
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where cleaning steps run: in this process (local) or on a Ray cluster (ray; docs/scale.md)")
    p.add_argument("--address", help="with --executor ray: the cluster's address (host:6379 or ray://host:10001; "
                                     "default: a running local cluster, else a new one on this machine)")
    p.add_argument("--partition-rows", type=int, default=50_000,
                   help="with --executor ray: rows per partition (default 50,000)")
    p.set_defaults(func=run)


def add_run_arguments(p) -> None:
    """Options shared by every command that executes a run file."""
    p.add_argument("--runs-dir", help="folder that holds run folders (default: $WORKBENCH_RUNS or ./runs)")
    p.add_argument("--force", action="store_true", help="re-run every step even when its inputs are unchanged")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def run(args) -> int:
    from workbench.runtime.runfile import load_runfile

    executor = chosen_executor(args)  # its options are checked before the run file is read
    execute_and_report(load_runfile(args.runfile), args, executor)
    return 0


def execute_and_report(rf, args, executor=None):
    """Execute ``rf`` (cleaning steps on ``executor``, None: locally), printing one line per step (stderr)
    and a summary (stdout)."""
    from workbench.runtime.engine import execute

    def on_step(step) -> None:
        if not args.json:
            m = step.manifest
            how = "reused" if step.reused else f"{m['seconds']:.1f}s"
            print(f"{m['name']:<34} rows {m['rows_in']:>6} -> {m['rows_out']:>6} "
                  f"(+{m['added']} -{m['dropped']} ~{m['changed']})  {how}", file=sys.stderr)

    outcome = execute(rf, runs_dir=args.runs_dir, show_progress=not args.json, force=args.force, on_step=on_step,
                      executor=executor)
    verdict = run_verdict(outcome.artifacts)
    if args.json:
        print(json.dumps({"run_dir": str(outcome.run_dir), "steps": [s.manifest | {"reused": s.reused}
                                                                     for s in outcome.steps],
                          "artifacts": outcome.artifacts, "verdict": verdict}, indent=2, default=str))
    else:
        print(f"run finished: {outcome.run_dir}")
        for name, value in sorted(outcome.artifacts.items()):
            print(f"  {name}: {value}")
        if verdict:
            print(verdict["headline"])
            for check in verdict["checks"]:
                print(f"  {check['status'].upper():<4}  {check['summary']}  ({check['threshold']})")
    return outcome


def chosen_executor(args):
    """The executor of ``--executor`` (None: local), checking that its options fit."""
    from workbench.errors import WorkbenchError

    if args.executor != "ray":
        if args.address:
            raise WorkbenchError("--address is for --executor ray", hint="add --executor ray, or drop --address")
        return None
    from workbench.runtime.ray_executor import RayExecutor

    return RayExecutor(address=args.address, partition_rows=args.partition_rows)


def run_verdict(artifacts: dict) -> dict | None:
    """The ship verdict of the run's evaluation (None when the run evaluated nothing or only one model)."""
    from workbench.evaluation.verdict import ship_verdict
    from workbench.runtime import store

    path = artifacts.get("evaluate.results")
    if not path or not Path(path).exists():
        return None
    results = store.read_json(Path(path))
    return ship_verdict(results) if results.get("comparisons") else None
