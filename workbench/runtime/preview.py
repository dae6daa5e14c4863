"""Before/after preview of any table step on a sample, writing nothing.

The UI shows what a cleaner would do before it is added to a run: the step
runs on a seeded sample inside a throw-away folder, and each sampled row
comes back with its text before and after, a word-level diff, and the action
and reason the ledger gave it.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from workbench.components import Step
from workbench.context import StepContext


def conversation_text(messages: list[dict[str, Any]] | None) -> str:
    """A conversation as readable text: one ``role: content`` line per turn."""
    return "\n".join(f"{m.get('role')}: {m.get('content') or ''}" for m in (messages or []))


def word_diff(before: str, after: str) -> list[dict[str, str]]:
    """Word-level diff as ops: ``{"op": "equal"|"delete"|"insert", "text": ...}``.

    Whitespace is kept with the words so joining the equal and delete parts
    gives ``before`` back, and equal and insert parts give ``after``.
    """
    a, b = re.findall(r"\s+|\S+", before), re.findall(r"\s+|\S+", after)
    ops: list[dict[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append({"op": "equal", "text": "".join(a[i1:i2])})
            continue
        if i2 > i1:
            ops.append({"op": "delete", "text": "".join(a[i1:i2])})
        if j2 > j1:
            ops.append({"op": "insert", "text": "".join(b[j1:j2])})
    return ops


def sample_rows(table: pl.DataFrame, n: int = 20, seed: int = 0) -> pl.DataFrame:
    """A seeded sample of ``n`` rows (the whole table when smaller)."""
    return table.sample(n=n, seed=seed, shuffle=False) if table.height > n else table


def run_sample(component: Step, table: pl.DataFrame, n: int = 20, seed: int = 0,
               ctx: StepContext | None = None) -> tuple[pl.DataFrame, Any]:
    """The seeded sample of ``n`` rows and ``component``'s result on it (a ``StepResult``); nothing is written.

    ``ctx`` (a UI task's context) receives the component's progress and cancel checks; its folder is the task's
    own throw-away folder."""
    sample = sample_rows(table, n, seed)
    if ctx is not None:
        return sample, component.run(sample, replace(ctx, seed=seed))
    folder = tempfile.mkdtemp(prefix="workbench-preview-")
    try:
        result = component.run(sample, StepContext(step_dir=Path(folder), seed=seed))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return sample, result


def preview_step(component: Step, table: pl.DataFrame, n: int = 20, seed: int = 0) -> list[dict[str, Any]]:
    """Run ``component`` on a seeded sample of ``n`` rows; nothing is written.

    Returns one dict per sampled row: ``id``, ``before``, ``after`` (None if
    dropped), ``diff`` (word ops), ``action`` ("dropped", "changed" or
    "kept") and ``reason`` (None when kept).
    """
    return compare(*run_sample(component, table, n, seed))


def compare(sample: pl.DataFrame, result: Any) -> list[dict[str, Any]]:
    """Each sampled row before and after the step (see :func:`preview_step`)."""
    after = {row["id"]: row["messages"] for row in result.table.select("id", "messages").iter_rows(named=True)}
    entries: dict[str, dict[str, Any]] = {}
    for entry in result.ledger.filter(pl.col("action").is_in(["dropped", "changed"])).iter_rows(named=True):
        entries.setdefault(entry["row_id"], entry)
    out = []
    for row in sample.select("id", "messages").iter_rows(named=True):
        entry = entries.get(row["id"])
        before = conversation_text(row["messages"])
        new = conversation_text(after[row["id"]]) if row["id"] in after else None
        out.append({
            "id": row["id"], "before": before, "after": new,
            "diff": word_diff(before, new if new is not None else ""),
            "action": entry["action"] if entry else "kept",
            "reason": entry["reason"] if entry else None,
            "detail": json.loads(entry["detail"]) if entry and entry["detail"] else None,
        })
    return out


def added_rows(sample: pl.DataFrame, result: Any) -> list[dict[str, Any]]:
    """Rows the step added (augmentation variants, scenarios), each paired with its source row.

    One dict per new row: ``id``, ``source_id``, ``origin``, ``scenario``,
    ``source`` (the source row's text, "" when it is not in the sample),
    ``after`` (the new row's text) and ``diff`` (word ops from source to new).
    """
    known = set(sample.get_column("id").to_list())
    sources = {row["id"]: conversation_text(row["messages"]) for row in sample.select("id", "messages").iter_rows(named=True)}
    out = []
    for row in result.table.filter(~pl.col("id").is_in(list(known))).iter_rows(named=True):
        text, source = conversation_text(row["messages"]), sources.get(row.get("source_id"), "")
        out.append({"id": row["id"], "source_id": row.get("source_id"), "origin": row.get("origin"),
                    "scenario": row.get("scenario"), "source": source, "after": text,
                    "diff": word_diff(source, text) if source else [{"op": "insert", "text": text}]})
    return out
