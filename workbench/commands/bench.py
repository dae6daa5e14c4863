"""``workbench bench NAME``: run one benchmark and print its JSON figures."""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import sys
from types import ModuleType

#: the benchmarks of the core, and of the built-in plugins' internals (beside the plugins, named as a string like
#: ``DEFAULT_PLUGINS`` so the core imports no plugin: docs/architecture.md; skipped when not installed)
PACKAGES = ("workbench.bench", "workbench.plugins.benchmarks")


def benchmarks() -> dict[str, ModuleType]:
    """Every benchmark by name: one module each in the :data:`PACKAGES`."""
    found = {}
    for package in PACKAGES:
        if importlib.util.find_spec(package) is None:
            continue
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            found[info.name] = importlib.import_module(f"{package}.{info.name}")
    return dict(sorted(found.items()))


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure speed against a baseline in the same run (JSON output)")
    s = p.add_subparsers(dest="bench_name", metavar="NAME", required=True)
    for name, module in benchmarks().items():
        q = s.add_parser(name, help=module.HELP)
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
