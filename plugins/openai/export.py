"""Export the canonical table's splits to OpenAI chat fine-tuning JSONL, refusing invalid rows.

The checks are those of OpenAI's chat data-preparation guide (a ``messages``
list, each turn a role OpenAI knows with text content, an assistant turn) plus
``weight`` being 0 or 1 and only on assistant turns, as the API requires. The
shared validator (``workbench.validate``) should replace ``problems_of`` once
it is part of the core.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import WorkbenchError

ROLES = ("system", "user", "assistant")


def problems_of(messages: Any) -> list[str]:
    """What OpenAI would reject in one example's ``messages`` (empty: fine)."""
    if not isinstance(messages, list) or not messages:
        return ["missing messages list"]
    problems = []
    for i, m in enumerate(messages):
        role, content, weight = m.get("role"), m.get("content"), m.get("weight")
        if role not in ROLES:
            problems.append(f"turn {i}: unrecognized role {role!r}")
        if not isinstance(content, str) or not content.strip():
            problems.append(f"turn {i}: missing or empty content")
        if weight is not None and (weight not in (0, 1) or role != "assistant"):
            problems.append(f"turn {i}: weight must be 0 or 1 and only on assistant turns")
    if not any(m.get("role") == "assistant" for m in messages):
        problems.append("no assistant message")
    return problems


def openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turns as OpenAI expects them: ``weight`` only where it is set."""
    out = []
    for m in messages:
        turn = {"role": m["role"], "content": m["content"]}
        if m.get("weight") is not None:
            turn["weight"] = int(m["weight"])
        out.append(turn)
    return out


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
        found = problems_of(row["messages"])
        problems += [f"{split}.jsonl line {lineno} (row {row['id']}): {p}" for p in found]
        if not found:
            conversations.append(openai_messages(row["messages"]))
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise WorkbenchError(f"refusing to upload invalid {split} examples: {shown}",
                             hint="fix or drop these rows with a cleaning step before the OpenAI trainer")
    text = "".join(json.dumps({"messages": c}, ensure_ascii=False) + "\n" for c in conversations)
    path = folder / f"{split}.jsonl"
    path.write_text(text, encoding="utf-8")
    return Export(path, hashlib.sha256(text.encode()).hexdigest(), len(conversations), conversations)
