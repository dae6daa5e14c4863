"""Evaluation examples from the canonical table.

The prompt is the conversation up to the last assistant turn and the
reference is that turn, so base and tuned models answer exactly what the
tuned model was trained to answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import polars as pl

EXAMPLE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Utf8, "prompt": pl.Utf8, "reference": pl.Utf8, "label": pl.Utf8, "expected_behavior": pl.Utf8,
    "scenario": pl.Utf8, "augmented": pl.Boolean, "source_id": pl.Utf8,
}


def split_conversation(messages: list[dict[str, Any]]) -> tuple[list[dict[str, str]], str | None]:
    """(prompt turns, reference answer); the reference is None without an assistant turn."""
    turns = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
    last = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=None)
    if last is None:
        return turns, None
    return turns[:last], turns[last]["content"]


def is_augmented(row: dict[str, Any]) -> bool:
    """A row derived from another (augmented variant): source_id differs from id."""
    return bool(row.get("source_id")) and row["source_id"] != row["id"]


def select_rows(table: pl.DataFrame, splits: Iterable[str], include_scenarios: bool) -> pl.DataFrame:
    """Rows of the chosen splits (``*``: every row), plus scenario rows (expected_behavior) not used for training."""
    if "*" in splits:
        return table
    wanted = pl.col("split").is_in(list(splits))
    if include_scenarios and "expected_behavior" in table.columns:
        wanted = wanted | (pl.col("expected_behavior").is_not_null() & (pl.col("split").is_null() | (pl.col("split") != "train")))
    return table.filter(wanted)


def build_examples(table: pl.DataFrame) -> pl.DataFrame:
    """One evaluation example per row with a prompt; rows without a user turn before the answer are skipped."""
    rows = []
    for row in table.iter_rows(named=True):
        prompt, reference = split_conversation(row["messages"] or [])
        if not any(t["role"] == "user" for t in prompt):
            continue
        rows.append({"id": row["id"], "prompt": json.dumps(prompt, ensure_ascii=False), "reference": reference,
                     "label": row.get("label"), "expected_behavior": row.get("expected_behavior"),
                     "scenario": row.get("scenario"), "augmented": is_augmented(row),
                     "source_id": row.get("source_id")})
    return pl.DataFrame(rows, schema=EXAMPLE_SCHEMA)


def question_text(prompt_json: str) -> str:
    """The last user turn of a prompt (what the report shows as the question)."""
    turns = json.loads(prompt_json)
    return next((t["content"] for t in reversed(turns) if t["role"] == "user"), "")
