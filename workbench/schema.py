"""The canonical table every step reads and writes.

One polars DataFrame, one row per example. See ``docs/schema.md``.

- ``id``: stable id of the row (unique within a table)
- ``messages``: list of ``{role, content, weight}`` turns; ``weight`` is null
  or 0/1 as in OpenAI's chat format (0 = do not train on this assistant turn)
- ``label``: optional target for classification-style tasks
- ``expected_behavior``: optional, for scenario rows
- ``scenario``: optional scenario type
- ``source_id``: id of the original row this one derives from (itself for originals)
- ``origin``: step/plugin that produced or last changed the row
- ``split``: ``train`` / ``validation`` / ``test`` or null
- ``meta``: free-form metadata as a JSON object string
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import polars as pl

ROLES = ("system", "user", "assistant")
SPLITS = ("train", "validation", "test")

MESSAGE = pl.Struct({"role": pl.Utf8, "content": pl.Utf8, "weight": pl.Int64})
MESSAGES = pl.List(MESSAGE)

SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "id": pl.Utf8,
    "messages": MESSAGES,
    "label": pl.Utf8,
    "expected_behavior": pl.Utf8,
    "scenario": pl.Utf8,
    "source_id": pl.Utf8,
    "origin": pl.Utf8,
    "split": pl.Utf8,
    "meta": pl.Utf8,
}
COLUMNS = tuple(SCHEMA)


def empty_table() -> pl.DataFrame:
    """A table with the canonical columns and no rows."""
    return pl.DataFrame(schema=SCHEMA)


def _normalise_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {col: row.get(col) for col in COLUMNS}
    out["messages"] = [
        {"role": m.get("role"), "content": m.get("content"), "weight": m.get("weight")}
        for m in (row.get("messages") or [])
    ]
    meta = row.get("meta")
    if meta is not None and not isinstance(meta, str):
        out["meta"] = json.dumps(meta, ensure_ascii=False, sort_keys=True)
    if out["source_id"] is None:
        out["source_id"] = out["id"]
    return out


def from_rows(rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """Build a canonical table from dicts (missing columns become null)."""
    return pl.DataFrame([_normalise_row(r) for r in rows], schema=SCHEMA)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Add missing canonical columns, cast to the schema, canonical order first.

    Extra columns are kept after the canonical ones.
    """
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in SCHEMA.items() if c not in df.columns]
    if missing:
        df = df.with_columns(missing)
    casts = [pl.col(c).cast(t) for c, t in SCHEMA.items() if df.schema[c] != t]
    if casts:
        df = df.with_columns(casts)
    extra = [c for c in df.columns if c not in SCHEMA]
    return df.select([*COLUMNS, *extra])


def meta_of(row: dict[str, Any]) -> dict[str, Any]:
    """Decode a row's ``meta`` JSON (empty dict when null)."""
    return json.loads(row["meta"]) if row.get("meta") else {}


def with_meta(meta_json: str | None, **updates: Any) -> str:
    """Return ``meta_json`` with ``updates`` merged in, as JSON."""
    meta = json.loads(meta_json) if meta_json else {}
    meta.update(updates)
    return json.dumps(meta, ensure_ascii=False, sort_keys=True)


def message_text(messages: list[dict[str, Any]], roles: Iterable[str] | None = None) -> str:
    """Concatenate the contents of the turns with the given roles."""
    wanted = set(roles) if roles is not None else None
    return "\n".join(
        (m.get("content") or "") for m in messages if wanted is None or m.get("role") in wanted
    )


def table_hash(df: pl.DataFrame) -> str:
    """Content hash of a table, stable across runs (used for step reuse)."""
    import hashlib

    h = hashlib.sha256()
    h.update(repr(list(df.schema.items())).encode())
    if df.height:
        h.update(df.hash_rows(seed=0).to_numpy().tobytes())
    return h.hexdigest()[:32]
