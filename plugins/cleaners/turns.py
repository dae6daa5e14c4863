"""Vectorised access to the ``messages`` column and ledger entries as frames.

Cleaners work on one flat frame of turns (one row per message, tagged with
its table row and position) rather than looping over rows in Python; this
module owns the explode/implode round trip, the placeholder shield and the
construction of ledger frames, so each cleaner only states its rule.
"""

from __future__ import annotations

import polars as pl

from workbench.schema import MESSAGE

ROW = "__row"
TURN = "__turn"

#: placeholders written by PII redaction; no later cleaner may alter them
PLACEHOLDERS = ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[IP]", "[URL]", "[SECRET]")
#: one private-use character per placeholder while a text rule runs
_SHIELDS = tuple(chr(0xE000 + i) for i in range(len(PLACEHOLDERS)))
#: a regex character class matching any shield character
SHIELDED = "[" + "".join(_SHIELDS) + "]"


def shield(expr: pl.Expr) -> pl.Expr:
    """Swap placeholders for single private-use characters no text rule touches."""
    return expr.str.replace_many(list(PLACEHOLDERS), list(_SHIELDS))


def unshield(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(list(_SHIELDS), list(PLACEHOLDERS))


def explode_turns(table: pl.DataFrame) -> pl.DataFrame:
    """One row per turn: ``__row`` (table position), ``__turn``, role, content, weight."""
    return (
        table.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(ROW), pl.col("messages"))
        .filter(pl.col("messages").list.len() > 0)
        .explode("messages")
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over(ROW).alias(TURN))
        .unnest("messages")
    )


def implode_turns(table: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
    """Rebuild ``messages`` from ``turns`` (ordered by row, turn); rows with no turns get []."""
    rebuilt = turns.group_by(ROW, maintain_order=True).agg(
        pl.struct(pl.col("role"), pl.col("content"), pl.col("weight").cast(pl.Int64)).alias("messages"))
    out = (
        table.drop("messages").with_row_index(ROW)
        .join(rebuilt, on=ROW, how="left", maintain_order="left")
        .with_columns(pl.col("messages").fill_null(pl.lit([], dtype=pl.List(MESSAGE))))
    )
    return out.select(table.columns)


def per_row(height: int, *aggregates: pl.DataFrame) -> pl.DataFrame:
    """Per-turn aggregates (keyed by ``__row``) aligned to all ``height`` table rows, in order."""
    out = pl.DataFrame({ROW: pl.int_range(height, dtype=pl.UInt32, eager=True)})
    for agg in aggregates:
        out = out.join(agg, on=ROW, how="left", maintain_order="left")
    return out


def row_json(table: pl.DataFrame) -> pl.Expr:
    """Each row of ``table`` as a JSON object (the ledger's ``row``), vectorised."""
    return pl.struct([pl.col(c) for c in table.columns]).struct.json_encode()


def ledger_entries(
    before: pl.DataFrame,
    mask: pl.Series,
    action: str,
    reason: str | pl.Expr,
    detail: pl.Expr | None = None,
) -> pl.DataFrame:
    """Ledger rows (row_id, action, reason, detail, row) for the rows of ``before`` under ``mask``.

    ``reason`` and ``detail`` may be expressions over ``before``'s columns
    (plus any helper columns it carries); ``row`` holds the canonical columns only.
    """
    from workbench.schema import COLUMNS

    picked = before.filter(mask)
    canonical = picked.select([c for c in picked.columns if c in COLUMNS or not c.startswith("__")])
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    detail_expr = pl.lit(None, dtype=pl.Utf8) if detail is None else detail
    return picked.select(
        pl.col("id").alias("row_id"),
        pl.lit(action).alias("action"),
        reason_expr.alias("reason"),
        detail_expr.cast(pl.Utf8).alias("detail"),
    ).with_columns(canonical.select(row_json(canonical).alias("row")))


def json_counts(counts: dict[str, pl.Expr]) -> pl.Expr:
    """A JSON object of the non-zero counts, e.g. ``{"EMAIL":2,"PHONE":1}``, vectorised."""
    parts = [pl.when(expr > 0).then(pl.format('"{}":{}', pl.lit(name), expr)) for name, expr in counts.items()]
    return pl.concat_str([pl.lit("{"), pl.concat_str(parts, separator=",", ignore_nulls=True), pl.lit("}")])


def mark_origin(table: pl.DataFrame, mask: pl.Series, name: str) -> pl.DataFrame:
    """Set ``origin`` to the cleaner's name on the rows it changed."""
    return table.with_columns(pl.when(mask).then(pl.lit(name)).otherwise(pl.col("origin")).alias("origin"))
