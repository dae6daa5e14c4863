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
    agree = actions.add_parser("agreement", help="how far testers agree (Krippendorff's alpha on ratings and choices)")
    agree.add_argument("--db", default="runs/feedback.sqlite", help="the feedback store (default %(default)s)")
    agree.add_argument("--json", action="store_true", help="print JSON")
    agree.set_defaults(func=run_agreement)


def _store(db: str):
    from pathlib import Path

    from workbench.errors import WorkbenchError
    from workbench.feedback.store import FeedbackStore

    if not Path(db).exists():
        raise WorkbenchError(f"feedback store {db} does not exist", hint="collect feedback with `workbench serve`")
    return FeedbackStore(db)


def run_agreement(args) -> int:
    import json

    from workbench.feedback.agreement import tester_agreement

    figures = tester_agreement(_store(args.db))
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for kind, f in figures.items():
        alpha = "n/a" if f["alpha"] is None else f"{f['alpha']:.3f}"
        print(f"{kind}: Krippendorff's alpha {alpha} over {f['examples']} examples judged by two or more of "
              f"{len(f['testers'])} testers")
    return 0


def run_export(args) -> int:
    from pathlib import Path

    from workbench.feedback.export import preference_pairs, supervised_rows
    from workbench.io import write_table

    store = _store(args.db)
    out = Path(args.out)
    for name, table in (("feedback-sft.jsonl", supervised_rows(store)),
                        ("feedback-preferences.jsonl", preference_pairs(store))):
        write_table(table, out / name, format="workbench-jsonl")
        print(f"{out / name}: {table.height} rows", file=sys.stderr)
    return 0
