"""Records between a reader and the canonical table, and the fields they share.

A reader turns each source record into a :class:`Record`: the canonical
fields it found (``messages`` as found, not yet checked), where each turn came
from, and the problems it saw. Every format accepts the canonical extension
fields (id, label, scenario, ...) as top-level keys; other keys are kept in
``meta`` under ``EXTRA_KEY`` and written back as top-level keys on export, so
no field is lost on a round trip.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from workbench.io.problems import Problem, problem

#: meta key that holds a record's unrecognised top-level keys
EXTRA_KEY = "_extra"
#: canonical columns that formats carry as plain top-level keys
EXTENSION_FIELDS = ("id", "label", "expected_behavior", "scenario", "source_id", "origin", "split", "meta")


@dataclass
class Record:
    """One source record on its way to a canonical row."""

    line: int
    raw: Any
    #: canonical fields found (``messages`` unchecked); None when the record could not be parsed
    fields: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    #: source field path of each turn (``messages[0]``, ``instruction``, ...); default ``messages[i]``
    paths: list[str] | None = None
    #: non-canonical columns, for formats that keep them as columns (workbench-jsonl, Parquet)
    columns: dict[str, Any] | None = None
    #: source names of a turn's keys where they differ (ShareGPT: role -> from, content -> value)
    turn_keys: dict[str, str] = field(default_factory=dict)

    @property
    def parsed(self) -> dict[str, Any]:
        """``fields`` of a record that was parsed (what readers fill in and checks read); an error otherwise."""
        if self.fields is None:
            raise ValueError(f"the record of line {self.line} was not parsed: it has no fields")
        return self.fields

    def path(self, index: int, key: str | None = None) -> str:
        """Field path of turn ``index`` (and one of its keys) in the source."""
        where = self.paths[index] if self.paths and index < len(self.paths) else f"messages[{index}]"
        if key is None or not where.endswith("]"):
            return where
        return f"{where}.{self.turn_keys.get(key, key)}"


@dataclass
class Batch:
    """What a reader hands the loader at once: records for the per-line checks, file-level problems, and
    the rows a compiled fast path already found clean (:class:`workbench.io.fastjson.FastRows`)."""

    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fast: Any = None


def batches_of(items: Iterable[Record | Problem], size: int) -> Iterator[Batch]:
    """Group a reader's stream of records and problems into batches of ``size`` items."""
    iterator = iter(items)
    while True:
        batch = Batch()
        for item in islice(iterator, size):
            if isinstance(item, Problem):
                batch.problems.append(item)
            else:
                batch.records.append(item)
        if not batch.records and not batch.problems:
            return
        yield batch


def take_fields(obj: dict[str, Any], own_keys: tuple[str, ...], line: int, *, keep_columns: bool = False) -> Record:
    """Split a source object into extension fields, the format's own keys and extra keys.

    Extra keys go to ``meta[EXTRA_KEY]`` with an ``unrecognized_key`` warning,
    or, with ``keep_columns``, to ``Record.columns``.
    """
    rec = Record(line, obj, fields={})
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        if key in EXTENSION_FIELDS:
            rec.parsed[key] = _extension_value(key, value, line, rec.problems)
        elif key not in own_keys:
            extra[key] = value
    if extra and keep_columns:
        rec.columns = extra
    elif extra:
        for key in extra:
            rec.problems.append(problem(line, key, "unrecognized_key", f"unrecognized key {key!r} (kept in meta.{EXTRA_KEY})"))
        meta = rec.parsed.get("meta")
        if isinstance(meta, dict) or meta is None:
            rec.parsed["meta"] = {**(meta or {}), EXTRA_KEY: extra}
    return rec


def _extension_value(key: str, value: Any, line: int, problems: list[Problem]) -> Any:
    if value is None or (isinstance(value, str) and key != "meta"):
        return value
    if key == "meta":
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError:
                decoded = None
            if isinstance(decoded, dict):
                return decoded
        problems.append(problem(line, "meta", "invalid_field", "meta must be a JSON object"))
        return None
    if isinstance(value, (int, float, bool)):
        problems.append(problem(line, key, "coerced_to_string", f"{key} {value!r} read as the text {str(value)!r}"))
        return str(value)
    problems.append(problem(line, key, "invalid_field", f"{key} must be a string, got {type(value).__name__}"))
    return None


def extension_of(row: dict[str, Any]) -> dict[str, Any]:
    """A canonical row's extension fields as top-level keys for writing (inverse of ``take_fields``).

    Null fields and a ``source_id`` equal to ``id`` are left out; the extra
    keys kept in meta come back as top-level keys.
    """
    out: dict[str, Any] = {}
    for key in EXTENSION_FIELDS:
        value = row.get(key)
        if value is None or (key == "source_id" and value == row.get("id")):
            continue
        if key == "meta":
            meta = json.loads(value)
            out.update(meta.pop(EXTRA_KEY, None) or {})
            if meta:
                out["meta"] = meta
            continue
        out[key] = value
    return out


def turns_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A canonical row's turns as plain dicts, ``weight`` only where set."""
    return [{"role": m["role"], "content": m["content"], **({"weight": m["weight"]} if m.get("weight") is not None else {})}
            for m in row.get("messages") or []]
