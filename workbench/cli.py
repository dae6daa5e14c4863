"""The ``workbench`` command: one entry point, one module per subcommand.

Each module in :mod:`workbench.commands` defines ``register(subparsers)``,
which adds its parser and sets ``func`` to a function taking the parsed
arguments and returning an exit code. Command modules import heavy libraries
only inside ``func`` so ``workbench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from workbench import __version__
from workbench.errors import WorkbenchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Curate, augment, train and evaluate fine-tuned chat models, with plugins.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--plugins-dir", help="also load every *.py plugin in this folder")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import workbench.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"workbench.commands.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.plugins_dir:
        from workbench.runtime.discovery import get_host

        try:
            get_host(args.plugins_dir)
        except WorkbenchError as exc:
            return _fail(exc, args.debug)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        return _fail(exc, args.debug)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _fail(exc: WorkbenchError, debug: bool = False) -> int:
    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    print(f"error: {exc}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
