"""Candidates (what an engine wrote) and the canonical rows made from them.

A suite row is a test prompt: ``split = "test"``, the conversation up to the
last user turn, plus the reference as a final assistant turn when there is
one and the suite keeps references. A training row always ends with its
reference answer (candidates without one cannot train and are rejected).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from workbench import schema
from workbench.scenarios import EXPECTED_BEHAVIOR
from workbench.scenarios.domain import Example


@dataclass
class Candidate:
    """One generated scenario before the quality gates."""

    scenario: str
    mode: str
    source: Example
    #: the conversation up to and including the last user turn (system turn first, if any)
    messages: list[dict[str, Any]]
    reference: str | None = None
    #: provenance: engine, template id or prompt, seed, who wrote the reference
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The last user turn: what the model under test must answer."""
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    @property
    def user_text(self) -> str:
        return schema.message_text(self.messages, roles=["user"])


def conversation(system: str | None, source: Example, text: str, *, history: bool) -> list[dict[str, Any]]:
    """System turn (if any), the source exchange when it is replayed, then the new user turn."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    if history:
        messages += [{"role": "user", "content": source.request}, {"role": "assistant", "content": source.answer}]
    return messages + [{"role": "user", "content": text}]


def to_row(cand: Candidate, row_id: str, origin: str, *, suite_reference: bool) -> dict[str, Any]:
    """The canonical row of a candidate (see module docstring for suite vs. training)."""
    messages = [dict(m) for m in cand.messages]
    keep_reference = cand.reference and (cand.mode == "train" or suite_reference)
    if keep_reference:
        messages.append({"role": "assistant", "content": cand.reference})
    return {
        "id": row_id, "messages": messages, "label": cand.source.label,
        "expected_behavior": EXPECTED_BEHAVIOR[cand.scenario], "scenario": cand.scenario,
        "source_id": cand.source.id, "origin": origin,
        "split": "test" if cand.mode == "suite" else cand.source.split,
        "meta": {**cand.meta, "mode": cand.mode, "generated": True, "has_reference": bool(keep_reference)},
    }


def to_table(candidates: list[Candidate], origin: str, *, suite_reference: bool) -> pl.DataFrame:
    """Canonical rows with ids ``<source>#<origin>/<scenario>/<mode><n>`` (unique per step)."""
    rows = [to_row(c, f"{c.source.id}#{origin}/{c.scenario}/{c.mode}{i}", origin, suite_reference=suite_reference)
            for i, c in enumerate(candidates)]
    return schema.from_rows(rows) if rows else schema.empty_table()


def write_suite(rows: pl.DataFrame, path: Path) -> int:
    """Write suite rows as OpenAI chat JSONL plus the canonical extension keys."""
    suite = rows.filter(pl.col("split") == "test")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in suite.iter_rows(named=True):
            messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
            record = {"messages": messages, **{k: row[k] for k in ("id", "scenario", "expected_behavior", "label",
                                                                   "source_id", "origin")},
                      "meta": json.loads(row["meta"]) if row["meta"] else {}}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return suite.height
