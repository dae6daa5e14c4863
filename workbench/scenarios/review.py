"""Preview, edit, accept or reject generated scenarios before they join a dataset.

The UI (or a script) calls :func:`preview` to get candidate rows without
writing anything, shows them, collects one decision per candidate id and
calls :func:`apply_decisions`; :func:`join` appends the kept rows to the
dataset. Decisions:

- ``"accept"``: keep the row as generated;
- ``"reject"`` (or ``{"action": "reject", "reason": "..."}``): discard it;
- ``{"prompt": "...", "reference": "..."}`` (either key, or ``"messages"``
  for the whole conversation): keep an edited row, marked ``edited`` in meta.

Every decision lands in a ledger (``added`` or ``rejected`` with the reason),
so a review is as accountable as a step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench import schema
from workbench.errors import WorkbenchError
from workbench.ledger import Ledger
from workbench.scenarios.generator import ScenarioEngine

Decision = str | Mapping[str, Any]


@dataclass
class Preview:
    """Candidate rows (canonical, not yet in any dataset), rejected drafts, stats."""

    candidates: pl.DataFrame
    ledger: pl.DataFrame
    stats: dict


@dataclass
class Reviewed:
    """Rows to join the dataset and the ledger of every decision."""

    rows: pl.DataFrame
    ledger: pl.DataFrame


def preview(table: pl.DataFrame, generator: str | type[ScenarioEngine] | ScenarioEngine = "scenario-templates",
            options: Mapping[str, Any] | None = None, *, seed: int = 0, base_dir: Path | None = None) -> Preview:
    """Generate candidates from ``table`` with a scenario engine (by name, class or instance)."""
    engine = _engine(generator, options, base_dir)
    gen = engine.generate(table, seed)
    return Preview(gen.rows, gen.ledger.frame(), gen.stats)


def apply_decisions(candidates: pl.DataFrame, decisions: Mapping[str, Decision], *, default: str = "reject",
                    component: str = "scenario-review") -> Reviewed:
    """Apply one decision per candidate id; undecided candidates get ``default``."""
    unknown = set(decisions) - set(candidates.get_column("id").to_list())
    if unknown:
        raise WorkbenchError(f"decisions name unknown candidate ids: {sorted(unknown)[:5]}")
    ledger = Ledger(component)
    kept = []
    for row in candidates.iter_rows(named=True):
        decision = decisions.get(row["id"], default)
        action = decision.get("action", "edit") if isinstance(decision, Mapping) else decision
        if action == "accept":
            kept.append(row)
            ledger.add(row["id"], "accepted in review")
        elif action == "reject":
            reason = decision.get("reason", "") if isinstance(decision, Mapping) else ""
            ledger.reject(row["id"], "rejected in review", detail={"reason": reason, "row": _plain(row)})
        elif action == "edit" and isinstance(decision, Mapping):
            kept.append(edit(row, decision))
            ledger.add(row["id"], "edited in review")
        else:
            raise WorkbenchError(f"decision for {row['id']!r} must be 'accept', 'reject' or an edit mapping, "
                                 f"got {decision!r}")
    rows = schema.from_rows(kept) if kept else schema.empty_table()
    return Reviewed(rows, ledger.frame())


def edit(row: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A candidate row with its conversation, prompt or reference replaced."""
    allowed = {"action", "messages", "prompt", "reference", "reason"}
    if set(changes) - allowed:
        raise WorkbenchError(f"edit of {row['id']!r} has unknown keys {sorted(set(changes) - allowed)}",
                             hint=f"allowed: {', '.join(sorted(allowed))}")
    messages = [dict(m) for m in changes.get("messages", row["messages"])]
    if any(m.get("role") not in schema.ROLES or not isinstance(m.get("content"), str) for m in messages):
        raise WorkbenchError(f"edit of {row['id']!r}: every message needs a role in {schema.ROLES} and text content")
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if not users:
        raise WorkbenchError(f"edit of {row['id']!r} leaves no user turn")
    if "prompt" in changes:
        messages[users[-1]]["content"] = changes["prompt"]
    if "reference" in changes:
        messages = messages[:users[-1] + 1]
        if changes["reference"]:
            messages.append({"role": "assistant", "content": changes["reference"]})
    meta = schema.with_meta(row["meta"], edited=True, **({"reference_by": "human"} if "reference" in changes else {}))
    return {**row, "messages": messages, "meta": meta}


def join(table: pl.DataFrame, reviewed: Reviewed) -> pl.DataFrame:
    """The dataset with the reviewed rows appended."""
    if not reviewed.rows.height:
        return table
    return pl.concat([schema.conform(table), reviewed.rows], how="diagonal_relaxed")


def _engine(generator: str | type[ScenarioEngine] | ScenarioEngine, options: Mapping[str, Any] | None,
            base_dir: Path | None) -> ScenarioEngine:
    if isinstance(generator, ScenarioEngine):
        return generator
    found: object = generator
    if isinstance(generator, str):
        from workbench.runtime.discovery import get_registry

        found = get_registry().entry("scenario", generator).component
    if not (isinstance(found, type) and issubclass(found, ScenarioEngine)):
        raise WorkbenchError(f"{found!r} is not a scenario engine (it cannot preview)")
    return found(dict(options or {}), base_dir=base_dir)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "meta": json.loads(row["meta"]) if row.get("meta") else {}}
