"""Paging, search and filters over large tables, lazily from parquet.

The Data page never loads a whole dataset to show one page: :func:`page`
scans the parquet file with polars, pushes the filters down and collects
only the requested slice (and a count). A 100,000-row table shows its first
page well under the 2 s budget (``tests/test_ui_table.py`` measures it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

#: columns offered as filters, besides the role of a turn
FILTER_COLUMNS = ("label", "split", "origin", "scenario")


@dataclass
class Query:
    """Free-text search (case-insensitive, in turn contents) and filters."""

    search: str = ""
    #: only turns of this role are searched; with no search, rows having such a turn
    role: str | None = None
    #: column -> accepted values (an empty list accepts all)
    filters: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Page:
    rows: pl.DataFrame
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def scan(path: str | Path) -> pl.LazyFrame:
    return pl.scan_parquet(path)


def apply(lf: pl.LazyFrame, query: Query) -> pl.LazyFrame:
    """The rows matching ``query`` (lazy)."""
    turns = pl.col("messages")
    if query.role:
        turns = turns.list.eval(pl.element().filter(pl.element().struct.field("role") == query.role))
    if query.search.strip():
        pattern = "(?i)" + re.escape(query.search.strip())
        hit = turns.list.eval(pl.element().struct.field("content").str.contains(pattern)).list.any()
        lf = lf.filter(hit.fill_null(False))
    elif query.role:
        lf = lf.filter(turns.list.len() > 0)
    names = lf.collect_schema().names()
    for column, values in query.filters.items():
        if values and column in names:
            lf = lf.filter(pl.col(column).is_in(values))
    return lf


def page(path: str | Path, query: Query | None = None, number: int = 1, size: int = 25) -> Page:
    """Page ``number`` (1-based) of the rows of ``path`` matching ``query``."""
    lf = apply(scan(path), query or Query())
    total = lf.select(pl.len()).collect().item()
    number = min(max(1, number), max(1, -(-total // size)))
    rows = lf.slice((number - 1) * size, size).collect()
    return Page(rows, total, number, size)


def choices(path: str | Path, column: str, limit: int = 200) -> list[str]:
    """Distinct non-null values of ``column`` (for filter widgets), most frequent first."""
    lf = scan(path)
    if column not in lf.collect_schema().names():
        return []
    counts = lf.group_by(column).len().drop_nulls(column).sort("len", descending=True).limit(limit).collect()
    return [str(v) for v in counts[column].to_list()]


def conversation(row: dict) -> list[tuple[str, str]]:
    """A row's turns as (role, content) pairs, for a chat-style view."""
    return [(m.get("role") or "?", m.get("content") or "") for m in row.get("messages") or []]


def readable(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows for the table view: the first user turn and the last assistant turn instead of ``messages``.

    A shared system prompt opens most conversations, so showing the turns in order would hide the
    question on every row; the turn count says how much more the conversation view holds.
    """
    return rows.with_columns(_contents("user").list.first().alias("first user turn"),
                             _contents("assistant").list.last().alias("last assistant turn"),
                             pl.col("messages").list.len().alias("turns")).select(
        "id", "first user turn", "last assistant turn", "turns", pl.exclude("id", "messages", "first user turn",
                                                                              "last assistant turn", "turns"))


def _contents(role: str) -> pl.Expr:
    """The contents of a row's turns of one role, in order."""
    turn = pl.element()
    return pl.col("messages").list.eval(turn.filter(turn.struct.field("role") == role).struct.field("content"))
