"""``workbench feedback export``: testers' feedback as training data (supervised rows and preference pairs)."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("feedback", help="turn testers' feedback (workbench serve) into training data")
    actions = p.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write supervised rows (corrections) and preference pairs")
    export.add_argument("--db", default="runs/feedback.sqlite", help="the feedback store (default %(default)s)")
    export.add_argument("--out", default="feedback-data", help="folder for feedback-sft.jsonl and "
                        "feedback-preferences.jsonl (default %(default)s)")
    export.set_defaults(func=run_export)


def run_export(args) -> int:
    from pathlib import Path

    from workbench.errors import WorkbenchError
    from workbench.feedback.export import preference_pairs, supervised_rows
    from workbench.feedback.store import FeedbackStore
    from workbench.io import write_table

    if not Path(args.db).exists():
        raise WorkbenchError(f"feedback store {args.db} does not exist", hint="collect feedback with `workbench serve`")
    store = FeedbackStore(args.db)
    out = Path(args.out)
    for name, table in (("feedback-sft.jsonl", supervised_rows(store)),
                        ("feedback-preferences.jsonl", preference_pairs(store))):
        write_table(table, out / name, format="workbench-jsonl")
        print(f"{out / name}: {table.height} rows", file=sys.stderr)
    return 0
