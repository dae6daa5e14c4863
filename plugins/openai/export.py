"""Export the canonical table's splits to OpenAI chat fine-tuning JSONL, refusing invalid rows.

Every row is checked by the shared validator (:func:`workbench.io.validate.check_messages`,
the checks of OpenAI's chat data-preparation guide plus ``weight`` being 0
or 1), so the trainer refuses exactly what ``workbench validate`` and
``load_table`` would quarantine. A problem is named by the line the row
would have in the exported file and by its row id; warnings (such as two
user turns in a row) do not stop the upload.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import WorkbenchError
from workbench.io.problems import ERROR
from workbench.io.records import Record, turns_of
from workbench.io.validate import check_messages

#: problems named in the error message; the rest are counted
SHOWN = 10


@dataclass
class Export:
    path: Path
    sha256: str
    examples: int
    conversations: list[list[dict[str, Any]]]


def export_split(table: pl.DataFrame, split: str, folder: Path) -> Export | None:
    """Write ``<split>.jsonl`` (one example per line) or raise naming every bad line and row."""
    rows = table.filter(pl.col("split") == split)
    if not rows.height:
        return None
    conversations, problems = [], []
    for lineno, row in enumerate(rows.select("id", "messages").iter_rows(named=True), start=1):
        rec = Record(lineno, row, fields={"messages": row["messages"]})
        turns = check_messages(rec)
        problems += [f"{split}.jsonl line {p.line} (row {row['id']}): {p.message} ({p.field}: {p.code})"
                     for p in rec.problems if p.severity == ERROR]
        if turns is not None:
            conversations.append(turns_of({"messages": turns}))
    if problems:
        more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise WorkbenchError(f"refusing to upload invalid {split} examples: {'; '.join(problems[:SHOWN])}{more}",
                             hint="fix or drop these rows with a cleaning step before the OpenAI trainer "
                                  "(`workbench validate` explains each code)")
    text = "".join(json.dumps({"messages": c}, ensure_ascii=False) + "\n" for c in conversations)
    path = folder / f"{split}.jsonl"
    path.write_text(text, encoding="utf-8")
    return Export(path, hashlib.sha256(text.encode()).hexdigest(), len(conversations), conversations)


def is_preference_table(table: pl.DataFrame) -> bool:
    """True when the train rows are preference pairs (``meta.rejected``, as the ``feedback`` loader writes)."""
    from workbench import schema

    rows = table.filter(pl.col("split") == "train").select("meta").to_dicts()
    return bool(rows) and all("rejected" in schema.meta_of(r) for r in rows)


def export_preferences(table: pl.DataFrame, split: str, folder: Path) -> Export | None:
    """Write ``<split>.jsonl`` in OpenAI's preference (DPO) format; ``conversations`` are prompt + chosen answer."""
    from workbench.feedback.export import pair_fields

    rows = table.filter(pl.col("split") == split)
    if not rows.height:
        return None
    lines, conversations = [], []
    for row in rows.iter_rows(named=True):
        prompt, chosen, rejected = pair_fields(row)
        lines.append({"input": {"messages": prompt}, "preferred_output": [{"role": "assistant", "content": chosen}],
                      "non_preferred_output": [{"role": "assistant", "content": rejected}]})
        conversations.append([*prompt, {"role": "assistant", "content": chosen}])
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    path = folder / f"{split}.jsonl"
    path.write_text(text, encoding="utf-8")
    return Export(path, hashlib.sha256(text.encode()).hexdigest(), len(lines), conversations)
