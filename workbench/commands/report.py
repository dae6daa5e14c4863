"""``workbench report RUN [--against RUN ...] [--out DIR]``: write the evaluation report.

With ``--against`` (repeatable) every model of every run joins one table with
95% intervals and paired tests on the examples the runs share. With ``--also``
(repeatable) an evaluation of the same models on other data (the testers'
feedback prompts, say) gets a table of its own: a round comparison on both sets.
"""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("report", help="write the HTML, Markdown and JSON evaluation report of a run")
    p.add_argument("run", help="run name or folder (with a finished evaluate step)")
    p.add_argument("--against", action="append", metavar="RUN",
                   help="another run to compare with (repeatable: all runs' models in one table)")
    p.add_argument("--also", action="append", metavar="RUN",
                   help="an evaluation of the models on other data, e.g. the feedback prompts (repeatable: a table each)")
    p.add_argument("--reference", metavar="RUN:MODEL",
                   help="column the others are tested against in that table (default: RUN:base)")
    p.add_argument("--out", help="output folder (default: <run>/report)")
    p.add_argument("--format", action="append", choices=["html", "md", "json"],
                   help="format to write (repeatable; default: all three)")
    p.add_argument("--title", help="report title")
    p.add_argument("--runs-dir", help="folder that holds run folders (default: $WORKBENCH_RUNS or ./runs)")
    p.add_argument("--json", action="store_true", help="print the written paths as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from workbench.report.build import build_report
    from workbench.report.render import FORMATS, write_report
    from workbench.runtime import store

    root = store.runs_root(args.runs_dir)
    run_dir = store.find_run(args.run, root)
    against = [store.find_run(a, root) for a in args.against or []]
    also = [store.find_run(a, root) for a in args.also or []]
    report = build_report(run_dir, against=against, title=args.title, reference=args.reference, also=also)
    paths = write_report(report, Path(args.out) if args.out else run_dir / "report", args.format or FORMATS)
    if args.json:
        print(json.dumps({k: str(v) for k, v in paths.items()}))
    else:
        for fmt, path in paths.items():
            print(f"{fmt:<5} {path}")
    return 0
