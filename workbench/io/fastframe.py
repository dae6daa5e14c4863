"""The fast path for typed tables (Parquet): the per-row checks as polars expressions over a whole batch.

A batch whose columns are exactly canonical ones with the canonical types
(no number where text is expected, so nothing to coerce or warn about) is
checked with vectorised expressions: an id, at least one turn, a known role
and text in every turn, weights 0/1 on assistant turns only, an assistant
turn, a system turn only first, no two turns in a row from one role, a known
split. Rows that pass keep their typed values (``meta`` re-serialised as the
per-row path does); any other row, or every row of a batch with other
columns or types, goes through the per-row checks, which name its problems.
"""

from __future__ import annotations

import json

import polars as pl

from workbench import schema

#: a character Python's ``str.strip`` keeps: polars' \s is Unicode White_Space, Python also strips \x1c-\x1f
#: (checked over every code point: the two tests agree)
VISIBLE = r"[^\s\x1c-\x1f]"


def typed_like_the_table(frame: pl.DataFrame) -> bool:
    """True when every column is canonical with its canonical type (or all null) and ``messages`` is there."""
    return "messages" in frame.columns and all(
        name in schema.SCHEMA and dtype in (schema.SCHEMA[name], pl.Null) for name, dtype in frame.schema.items())


def split_clean(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[int]]:
    """(the clean rows as the per-row path writes them, with ``_row``: their index; the indices of the other rows)."""
    meta = None
    if "meta" in frame.columns and frame["meta"].null_count() < frame.height:
        meta = pl.Series("meta", [None if m is None else normalised_meta(m) for m in frame["meta"]], dtype=pl.Utf8)
    ok = clean_rows(frame, meta)
    frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"))
    if meta is not None:
        frame = frame.with_columns(meta)
    rest = frame.filter(~ok)["_row"].to_list()
    clean = schema.conform(frame.filter(ok)).with_columns(pl.coalesce("source_id", "id").alias("source_id"))
    return clean, rest


def clean_rows(frame: pl.DataFrame, meta: pl.Series | None = None) -> pl.Series:
    """True for the rows no per-row check would flag (see the module docstring); ``meta``: the normalised meta."""
    turn = pl.element().struct
    roles = pl.col("messages").list.eval(turn.field("role"))
    weight = turn.field("weight")
    checks = [
        pl.col("id").is_not_null() if "id" in frame.columns else pl.lit(False),
        pl.col("messages").list.len() > 0,
        roles.list.eval(pl.element().is_in(schema.ROLES).fill_null(False)).list.all(),
        pl.col("messages").list.eval(turn.field("content").str.contains(VISIBLE).fill_null(False)).list.all(),
        ~pl.col("messages").list.eval(weight.is_not_null()
                                      & (~weight.is_in([0, 1]) | (turn.field("role") != "assistant"))).list.any(),
        roles.list.contains("assistant"),
        ~roles.list.eval((pl.element() == pl.element().shift(1))
                         | ((pl.element() == "system") & (pl.int_range(pl.len()) > 0))).list.any(),
    ]
    if "split" in frame.columns:
        checks.append(pl.col("split").is_null() | pl.col("split").is_in(schema.SPLITS))
    if meta is not None:
        checks.append(pl.col("meta").is_null() | pl.lit(meta.is_not_null()))
    return frame.select(pl.all_horizontal(checks).fill_null(False)).to_series()


def normalised_meta(text: str) -> str | None:
    """``meta`` as the per-row path stores it; None when it is not a JSON object (those rows are not clean)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else None
