"""Try a cleaner, augmenter or scenario generator on a sample before applying it.

Works for any registered component (built-in or third-party): it runs the
component on a seeded sample in a scratch folder and pairs what came out
with what went in: before/after word diffs of changed rows, dropped rows
with their reasons, and generated variants beside their source row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from workbench import schema
from workbench.context import scratch_context
from workbench.evaluation.diff import word_diff
from workbench.plugins import Host, get_host


def render(messages: list[dict[str, Any]] | None) -> str:
    """A conversation as plain text, one ``role: content`` line per turn."""
    return "\n".join(f"{m.get('role')}: {m.get('content') or ''}" for m in messages or [])


@dataclass
class Change:
    row_id: str
    action: str  # changed or dropped
    reason: str
    before: str
    after: str | None
    diff: list[tuple[str, str]]


@dataclass
class Preview:
    component: str
    before: pl.DataFrame
    after: pl.DataFrame
    ledger: pl.DataFrame
    stats: dict[str, Any]

    def changes(self) -> list[Change]:
        """Changed and dropped rows of the sample, each with its word diff."""
        before = {r["id"]: r for r in self.before.iter_rows(named=True)}
        after = {r["id"]: r for r in self.after.iter_rows(named=True)}
        out = []
        for entry in self.ledger.filter(pl.col("action").is_in(["changed", "dropped"])).iter_rows(named=True):
            old = before.get(entry["row_id"]) or (json.loads(entry["row"]) if entry["row"] else {})
            new = after.get(entry["row_id"]) if entry["action"] == "changed" else None
            old_text, new_text = render(old.get("messages")), render(new["messages"]) if new else None
            out.append(Change(entry["row_id"], entry["action"], entry["reason"] or "", old_text, new_text,
                              word_diff(old_text, new_text) if new_text is not None else []))
        return out

    def variants(self) -> pl.DataFrame:
        """New rows beside their source: id, source_id, origin, scenario, source text, variant text, diff."""
        known = set(self.before["id"].to_list())
        source_text = {r["id"]: render(r["messages"]) for r in self.before.iter_rows(named=True)}
        rows = []
        for r in self.after.filter(~pl.col("id").is_in(list(known))).iter_rows(named=True):
            text, src = render(r["messages"]), source_text.get(r["source_id"], "")
            rows.append({"id": r["id"], "source_id": r["source_id"], "origin": r["origin"], "scenario": r["scenario"],
                         "source": src, "variant": text, "diff": diff_markdown(word_diff(src, text)) if src else ""})
        return pl.DataFrame(rows, schema={"id": pl.Utf8, "source_id": pl.Utf8, "origin": pl.Utf8,
                                          "scenario": pl.Utf8, "source": pl.Utf8, "variant": pl.Utf8,
                                          "diff": pl.Utf8})

    def counts(self) -> dict[str, int]:
        actions = self.ledger["action"] if self.ledger.height else pl.Series([], dtype=pl.Utf8)
        return {a: int((actions == a).sum()) for a in ("changed", "dropped", "added", "rejected")}


def sample(table: pl.DataFrame, n: int, seed: int = 0) -> pl.DataFrame:
    """A seeded sample of ``n`` rows (the whole table when smaller), original order kept."""
    if table.height <= n:
        return table
    return table.with_row_index("_i").sample(n, seed=seed).sort("_i").drop("_i")


def run(family: str, name: str, options: dict[str, Any], table: pl.DataFrame, *, seed: int = 0,
        host: Host | None = None) -> Preview:
    """Run one component on ``table`` (already a sample) without touching any run folder."""
    cls = (host or get_host()).registry.get(family, name)
    ctx = scratch_context(seed=seed)
    result = cls(options).run(schema.conform(table), ctx)
    return Preview(name, schema.conform(table), schema.conform(result.table), result.ledger, result.stats)


def diff_markdown(segments: list[tuple[str, str]]) -> str:
    """Word diff as Markdown: removed words struck through in red, added ones in green."""
    parts = []
    for op, text in segments:
        safe = text.replace("~", "\\~").replace("*", "\\*").replace("[", "\\[").replace("]", "\\]")
        parts.append(safe if op == "=" else f":red[~~{safe}~~]" if op == "-" else f":green[**{safe}**]")
    return " ".join(parts)
