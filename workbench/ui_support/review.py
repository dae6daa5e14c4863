"""Try components on a sample, then accept, reject or edit the rows they generate, and save the result.

The preview itself is :mod:`workbench.runtime.preview` (cleaners, augmenters, any
table step: a seeded sample, run in a throw-away folder, before/after word
diffs, new rows paired with their source); scenario engines go through
:func:`workbench.scenarios.review.preview`. Decisions are
``row id -> "accept" | "reject" | {"prompt": ..., "reference": ...}`` (an
edit; missing = pending) and are applied by
:func:`workbench.scenarios.review.apply_decisions`, whose ledger records every
accept, reject and edit. The curated dataset (the current rows plus the kept
candidates) is saved as parquet with that ledger beside it and becomes the
pipeline's data source, so the run file that follows still replays with
``workbench run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from workbench import schema
from workbench.components import Step
from workbench.context import StepContext
from workbench.errors import Cancelled, WorkbenchError
from workbench.runtime import preview, store
from workbench.runtime.discovery import Host, get_host
from workbench.scenarios import review as scenario_review
from workbench.ui_support.pipeline import Pipeline

Decision = str | Mapping[str, Any]


@dataclass
class Tried:
    """One component's output on a sample: the sample, its output table and ledger (a StepResult's shape)."""

    family: str
    component: str
    sample: pl.DataFrame
    table: pl.DataFrame
    ledger: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def rows(self) -> list[dict[str, Any]]:
        """Each sampled row before/after with its word diff, action and reason (:func:`workbench.runtime.preview.compare`).

        Computed once: the page redraws on every widget change, and word diffs of a large sample take seconds.
        """
        if self._rows is None:
            self._rows = preview.compare(self.sample, self)
        return self._rows

    def changes(self) -> list[dict[str, Any]]:
        return [r for r in self.rows() if r["action"] != "kept"]

    def added(self) -> list[dict[str, Any]]:
        """New rows beside their source (:func:`workbench.runtime.preview.added_rows`)."""
        return preview.added_rows(self.sample, self)

    def candidates(self) -> pl.DataFrame:
        """The new rows, canonical, ready for review."""
        return self.table.filter(~pl.col("id").is_in(self.sample.get_column("id").to_list()))

    def counts(self) -> dict[str, int]:
        actions = self.ledger.get_column("action") if self.ledger.height else pl.Series([], dtype=pl.Utf8)
        return {a: int((actions == a).sum()) for a in ("changed", "dropped", "added", "rejected")}


def try_component(family: str, name: str, options: Mapping[str, Any], table: pl.DataFrame, n: int, *,
                  seed: int = 0, host: Host | None = None, ctx: StepContext | None = None) -> Tried:
    """Run one registered component on a seeded sample of ``n`` rows, writing nothing (``ctx``: a UI task's)."""
    from workbench.scenarios.generator import ScenarioEngine

    cls = (host or get_host()).registry.get(family, name)
    table = schema.conform(table)
    if isinstance(cls, type) and issubclass(cls, ScenarioEngine):
        rows = preview.sample_rows(table, n, seed)
        found = scenario_review.preview(rows, cls, dict(options), seed=seed)
        out = pl.concat([rows, schema.conform(found.candidates)], how="diagonal_relaxed")
        return Tried(family, name, rows, out, found.ledger, found.stats)
    component = cls(dict(options))
    if not isinstance(component, Step):
        raise WorkbenchError(f"{family} {name!r} does not run on a table: it cannot be tried on a sample")
    rows, result = preview.run_sample(component, table, n, seed, ctx=ctx)
    return Tried(family, name, rows, schema.conform(result.table), result.ledger, result.stats)


def try_all(chosen: list[tuple[str, str, Mapping[str, Any]]], table: pl.DataFrame, n: int, *, seed: int = 0,
            host: Host | None = None, ctx: StepContext | None = None) -> tuple[list[Tried], list[WorkbenchError]]:
    """Try each ``(family, name, options)`` in turn: the tries, and each failure as an error naming its component.

    Run as a UI task (``ctx``), components report their progress and a Cancel stops before the next one."""
    tried, failed = [], []
    for family, name, options in chosen:
        if ctx is not None and ctx.cancelled():
            raise Cancelled()
        try:
            tried.append(try_component(family, name, options, table, n, seed=seed, host=host, ctx=ctx))
        except Exception as exc:  # noqa: BLE001 - any component failure is reported by name, not raised
            failed.append(WorkbenchError(f"{family} {name} failed on the sample: {exc}", hint=getattr(exc, "hint", None)))
    return tried, failed


def candidates(tried: list[Tried]) -> pl.DataFrame:
    """Every generated row of the tries, canonical."""
    parts = [schema.conform(t.candidates()) for t in tried]
    return pl.concat(parts) if parts else schema.empty_table()


def prompt_reference(messages: list[dict[str, Any]] | None) -> tuple[str, str]:
    """The last user turn and the assistant answer after it (what a reviewer may edit)."""
    messages = messages or []
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if not users:
        return "", ""
    answer = next((m.get("content") or "" for m in messages[users[-1] + 1:] if m.get("role") == "assistant"), "")
    return messages[users[-1]].get("content") or "", answer


def decide(keep: bool, messages: list[dict[str, Any]] | None, prompt: str | None = None,
           reference: str | None = None) -> Decision:
    """One reviewer decision: reject, accept, or an edit when the prompt or the reference was changed."""
    if not keep:
        return "reject"
    old_prompt, old_reference = prompt_reference(messages)
    edit = {}
    if prompt is not None and prompt != old_prompt:
        edit["prompt"] = prompt
    if reference is not None and reference != old_reference:
        edit["reference"] = reference
    return edit or "accept"


def _kind(decision: Decision | None) -> str:
    if decision is None:
        return "pending"
    if isinstance(decision, Mapping):
        return "reject" if decision.get("action") == "reject" else "edit"
    return decision


def rates(decisions: Mapping[str, Decision], total: int, filtered_out: int = 0) -> dict[str, float | int]:
    """Accepted (edits included), edited, rejected, pending, acceptance rate of reviewed rows, filters' rejections."""
    kinds = [_kind(d) for d in decisions.values()]
    edited = kinds.count("edit")
    accepted, rejected = kinds.count("accept") + edited, kinds.count("reject")
    reviewed = accepted + rejected
    return {"accepted": accepted, "edited": edited, "rejected": rejected, "pending": total - reviewed,
            "acceptance": round(accepted / reviewed, 3) if reviewed else 0.0, "filtered_out": filtered_out}


def rates_by_origin(generated: pl.DataFrame, decisions: Mapping[str, Decision]) -> pl.DataFrame:
    """The acceptance table per generator (row origin)."""
    out = []
    for (origin,), part in generated.group_by(["origin"], maintain_order=True):
        ids = part.get_column("id").to_list()
        r = rates({i: decisions[i] for i in ids if i in decisions}, len(ids))
        out.append({"origin": origin or "", "generated": len(ids), **{k: r[k] for k in
                    ("accepted", "edited", "rejected", "pending", "acceptance")}})
    return pl.DataFrame(out, schema={"origin": pl.Utf8, "generated": pl.Int64, "accepted": pl.Int64,
                                     "edited": pl.Int64, "rejected": pl.Int64, "pending": pl.Int64,
                                     "acceptance": pl.Float64})


def apply(table: pl.DataFrame, generated: pl.DataFrame, decisions: Mapping[str, Decision]
          ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The curated table (rows plus kept candidates, edits applied) and the review ledger; pending = rejected."""
    reviewed = scenario_review.apply_decisions(generated, decisions, default="reject", component="ui-review")
    return scenario_review.join(schema.conform(table), reviewed), reviewed.ledger


def save_curated(p: Pipeline, table: pl.DataFrame, runs_dir: str | Path,
                 ledger: pl.DataFrame | None = None) -> Pipeline:
    """Save ``table`` (and the review ledger beside it) under ``<runs>/_curated/``; return a pipeline loading it."""
    path = (Path(runs_dir) / "_curated" / f"{p.name}.parquet").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    store.write_parquet(path, schema.conform(table))
    if ledger is not None:
        store.write_parquet(review_ledger_path(path), ledger)
    later = p.stage("split", "train", "evaluate", "report")
    note = f"curated from {p.name}: {table.height} rows after review"
    return Pipeline(p.name, p.seed, note, [{"kind": "load", "options": {"path": str(path), "format": "parquet"}},
                                           *later], p.base_dir)


def review_ledger_path(curated: Path) -> Path:
    return curated.with_name(curated.stem + ".review.parquet")
