"""The ledger: every row a step dropped, changed, added or rejected, and why.

Steps return a :class:`StepResult`. Its ledger is a polars frame with the
columns of ``LEDGER_SCHEMA``; ``row`` holds the row as it was before the step
(JSON), so a dropped row can be restored and a change undone.

Accounting rule checked by the engine for every step:
``rows_in + added == rows_out + dropped``. ``rejected`` entries are candidates
a step considered and did not keep (e.g. augmentation variants failing the
meaning filter); they never were rows and do not enter the balance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

ACTIONS = ("dropped", "changed", "added", "rejected")

LEDGER_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "row_id": pl.Utf8,
    "action": pl.Utf8,
    "reason": pl.Utf8,
    "component": pl.Utf8,
    "detail": pl.Utf8,
    "row": pl.Utf8,
}


def _json(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class Ledger:
    """Collects ledger entries; cheap per entry, or whole frames at once."""

    def __init__(self, component: str) -> None:
        self.component = component
        self._rows: list[dict[str, Any]] = []
        self._frames: list[pl.DataFrame] = []

    def record(self, action: str, row_id: str | None, reason: str, *, row: Any = None, detail: Any = None) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown ledger action {action!r}; expected one of {ACTIONS}")
        self._rows.append(
            {"row_id": row_id, "action": action, "reason": reason, "component": self.component,
             "detail": _json(detail), "row": _json(row)}
        )

    def drop(self, row_id: str, reason: str, *, row: Any = None, detail: Any = None) -> None:
        self.record("dropped", row_id, reason, row=row, detail=detail)

    def change(self, row_id: str, reason: str, *, row: Any = None, detail: Any = None) -> None:
        self.record("changed", row_id, reason, row=row, detail=detail)

    def add(self, row_id: str, reason: str, *, detail: Any = None) -> None:
        self.record("added", row_id, reason, detail=detail)

    def reject(self, row_id: str | None, reason: str, *, detail: Any = None) -> None:
        self.record("rejected", row_id, reason, detail=detail)

    def extend(self, frame: pl.DataFrame) -> None:
        """Add many entries at once (vectorised steps). Missing columns are null."""
        if frame.height:
            if "component" not in frame.columns:
                frame = frame.with_columns(pl.lit(self.component).alias("component"))
            self._frames.append(to_ledger_frame(frame))

    def frame(self) -> pl.DataFrame:
        parts = [pl.DataFrame(self._rows, schema=LEDGER_SCHEMA)] if self._rows else []
        parts += self._frames
        return pl.concat(parts) if parts else empty_ledger()


def empty_ledger() -> pl.DataFrame:
    return pl.DataFrame(schema=LEDGER_SCHEMA)


def to_ledger_frame(frame: pl.DataFrame) -> pl.DataFrame:
    cols = [
        (pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t)).alias(c)
        for c, t in LEDGER_SCHEMA.items()
    ]
    return frame.select(cols)


def rows_as_json(df: pl.DataFrame) -> pl.Series:
    """Each row of ``df`` as a JSON object string (for the ledger's ``row``)."""
    return pl.Series("row", [json.dumps(r, ensure_ascii=False, default=str) for r in df.iter_rows(named=True)], dtype=pl.Utf8)


@dataclass
class StepResult:
    """What a step returns: the new table, its ledger, stats and artifacts."""

    table: pl.DataFrame
    ledger: pl.DataFrame = field(default_factory=empty_ledger)
    #: small JSON-able figures the step wants in its manifest (counts by type, ...)
    stats: dict[str, Any] = field(default_factory=dict)
    #: name -> path relative to the step folder, or an identifier (e.g. a model id)
    artifacts: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        actions = self.ledger.get_column("action") if self.ledger.height else pl.Series([], dtype=pl.Utf8)
        return {a: int((actions == a).sum()) for a in ACTIONS}


def balance_problem(rows_in: int, result: StepResult) -> str | None:
    """Explain why a step's row accounting does not add up (None if it does)."""
    c = result.counts()
    rows_out = result.table.height
    if rows_in + c["added"] != rows_out + c["dropped"]:
        return (
            f"rows in ({rows_in}) + added ({c['added']}) != rows out ({rows_out}) + "
            f"dropped ({c['dropped']})"
        )
    return None


def _restorable(text: str) -> dict[str, Any] | None:
    """A ledger ``row`` that is a canonical row (quarantined raw lines are not)."""
    try:
        row = json.loads(text)
    except (TypeError, ValueError):
        return None
    return row if isinstance(row, dict) and "id" in row and isinstance(row.get("messages"), list) else None


def restore(table: pl.DataFrame, ledger: pl.DataFrame, row_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """Put dropped rows (all, or those in ``row_ids``) back into ``table``.

    Rows quarantined by loading hold the raw record, not a canonical row; they
    are skipped here (fix them in the source file and load it again).
    """
    from workbench import schema

    dropped = ledger.filter(pl.col("action") == "dropped")
    if row_ids is not None:
        dropped = dropped.filter(pl.col("row_id").is_in(list(row_ids)))
    rows = [r for text in dropped.get_column("row").drop_nulls() if (r := _restorable(text)) is not None]
    if not rows:
        return table
    base = schema.conform(table)
    back = schema.conform(schema.from_rows(rows))
    return pl.concat([base, back.select(base.columns)], how="vertical_relaxed")


def earliest_versions(ledger: pl.DataFrame, row_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """Each dropped or changed row (all, or those in ``row_ids``) as it was before the first step that touched it.

    ``ledger`` is in step order (:func:`workbench.runtime.store.run_ledger`); a row changed and later dropped
    comes back with its original text. Loading the result with ``append = true`` puts dropped rows
    back and replaces changed rows by their earlier version (with ``replace = true``).
    """
    from workbench import schema

    touched = ledger.filter(pl.col("action").is_in(["dropped", "changed"]))
    if row_ids is not None:
        touched = touched.filter(pl.col("row_id").is_in(list(row_ids)))
    rows: dict[str, dict[str, Any]] = {}
    for text in touched.get_column("row").drop_nulls():
        row = _restorable(text)
        if row is not None and row["id"] not in rows:
            rows[row["id"]] = row
    return schema.conform(schema.from_rows(rows.values())) if rows else schema.empty_table()
