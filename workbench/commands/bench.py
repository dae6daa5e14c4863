"""``workbench bench NAME``: run one benchmark and print its JSON figures."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys


def register(sub) -> None:
    import workbench.bench as bench

    p = sub.add_parser("bench", help="measure speed against a baseline in the same run (JSON output)")
    s = p.add_subparsers(dest="bench_name", metavar="NAME", required=True)
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"workbench.bench.{info.name}")
        q = s.add_parser(info.name, help=module.HELP)
        module.add_arguments(q)
        q.add_argument("--json", action="store_true", help="print only the JSON object")
        q.add_argument("--output", help="also write the JSON to this file")
        q.set_defaults(func=run, bench_module=module)


def run(args) -> int:
    result = args.bench_module.run(args)
    text = json.dumps(result, indent=2, default=str)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    print(text)
    if not args.json:
        print(f"benchmark {args.bench_name} done", file=sys.stderr)
    return 0
