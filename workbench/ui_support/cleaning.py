"""Guards and explanations for the Clean page: heavy drops, rows before -> after, kept duplicates.

A cleaner that drops a large share of the rows is usually mis-configured
(near-dedup on whole conversations that share a system prompt dropped 66% of
the sample data), so before applying, the page runs the chain on the whole
table in memory (the preview's machinery, nothing written), finds the steps
that drop too much with :func:`heavy_drops`, and asks before going on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.context import StepContext
from workbench.errors import WorkbenchError
from workbench.ui_support import runs

#: a clean step dropping more than this share of its input rows needs a confirmation
MAX_DROP_SHARE = 0.2


@dataclass
class HeavyDrop:
    """A clean step that dropped more than the allowed share of the rows it received."""

    step: str
    rows_in: int
    dropped: int

    @property
    def share(self) -> float:
        return self.dropped / self.rows_in if self.rows_in else 0.0

    def __str__(self) -> str:
        return f"{self.step} dropped {self.dropped} of {self.rows_in} rows ({self.share:.0%})"


def _clean_steps(run_dir: str | Path) -> pl.DataFrame:
    steps = runs.steps(run_dir)
    return steps.filter(pl.col("name").str.contains("-clean-")) if steps.height else steps


def try_chain(chosen: Mapping[str, Mapping[str, Any]], frame: pl.DataFrame, rows: int | None = None, *,
              seed: int = 0, host: Any = None, ctx: StepContext | None = None) -> tuple[list[Any], WorkbenchError | None]:
    """The chosen cleaners one after the other on a seeded sample of ``rows`` (all: None), writing nothing.

    Returns the tries and, when a cleaner failed, an error naming it (the cleaners after it are not run). Run
    as a UI task (``ctx``), cleaners report progress and a Cancel stops before the next one.
    """
    from workbench.errors import Cancelled
    from workbench.ui_support import review

    tried: list[Any] = []
    for i, (name, options) in enumerate(chosen.items()):
        if ctx is not None and ctx.cancelled():
            raise Cancelled()
        n = (rows or frame.height) if i == 0 else frame.height
        try:
            tried.append(review.try_component("cleaner", name, options, frame, n, seed=seed, host=host, ctx=ctx))
        except Exception as exc:  # noqa: BLE001 - any component failure is reported by name, not raised
            return tried, WorkbenchError(f"cleaner {name} failed: {exc}", hint=getattr(exc, "hint", None) or
                                         "the cleaners after it were not run; remove it or change its options")
        frame = tried[-1].table
    return tried, None


def heavy_drops(tried: list[Any], max_share: float = MAX_DROP_SHARE) -> list[HeavyDrop]:
    """The steps of a chain tried on the whole table (:class:`workbench.ui_support.review.Tried`, in order)
    that dropped more than ``max_share`` of the rows they received."""
    found = [HeavyDrop(t.component, t.sample.height, t.counts()["dropped"]) for t in tried]
    return [h for h in found if h.share > max_share]


def rows_before_after(run_dir: str | Path) -> tuple[int, int] | None:
    """Rows entering the first clean step and leaving the last one (None when the run has no clean step)."""
    clean = _clean_steps(run_dir)
    if not clean.height:
        return None
    return int(clean["rows_in"][0]), int(clean["rows_out"][-1])


def kept_duplicate(detail: dict[str, Any] | None) -> str | None:
    """The id of the row a dropped duplicate was matched to (exact, near and semantic dedup ledgers)."""
    detail = detail or {}
    return detail.get("duplicate_of") or detail.get("cluster")


def with_kept_rows(ledger: pl.DataFrame) -> pl.DataFrame:
    """The ledger with a ``kept row`` column: for a dropped duplicate, the id of the row kept in its place."""
    kept = [kept_duplicate(json.loads(d)) if d else None for d in ledger.get_column("detail").to_list()]
    return ledger.with_columns(pl.Series("kept row", kept, dtype=pl.Utf8))
