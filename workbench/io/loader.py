"""``load_table``: any supported file -> canonical table + quarantine, nothing lost.

Records stream from the reader in batches; each batch is checked
(:mod:`workbench.validate`), its valid rows become a small polars frame and
its invalid ones go to the quarantine (file and ``LoadResult.quarantined``).
Memory therefore grows with the table, not with Python objects for the whole
file. ``rows_read == table.height + len(quarantined)`` always holds.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

import polars as pl

from workbench import schema
from workbench.io import choose, source
from workbench.io.problems import ERROR, Problem, is_error
from workbench.io.records import Record
from workbench import validate

BATCH = 5000
#: warnings that mean reading repaired the record (the ledger records them as changes)
RECOVERY_CODES = ("bom_removed",)
#: problems kept per code in ``LoadResult.problems`` (``problem_counts`` counts them all)
MAX_PROBLEMS_PER_CODE = 10_000


@dataclass
class Quarantined:
    """A record that did not become a row, with the reasons."""

    row_id: str
    line: int
    codes: str
    raw: Any
    problems: list[dict[str, Any]]

    def to_json(self) -> str:
        return json.dumps({"row_id": self.row_id, "line": self.line, "codes": self.codes, "raw": self.raw,
                           "problems": self.problems}, ensure_ascii=False, default=str)


@dataclass
class LoadResult:
    """What loading found: the valid rows as a table, the quarantine, and every problem."""

    table: pl.DataFrame
    quarantined: list[Quarantined]
    rows_read: int
    format: str
    problems: list[Problem] = field(default_factory=list)
    #: (code, severity) -> count, complete even when ``problems`` was capped
    problem_counts: Counter = field(default_factory=Counter)
    token_label: str | None = None
    #: (row id, line, codes) of each kept row that reading repaired (``RECOVERY_CODES``)
    recovered: list[tuple[str, int, str]] = field(default_factory=list)


class _Collector:
    """Accumulates rows, quarantine and problems while batches stream through."""

    def __init__(self, quarantine_path: Path | None) -> None:
        self.frames: list[pl.DataFrame] = []
        self.quarantined: list[Quarantined] = []
        self.problems: list[Problem] = []
        self.counts: Counter = Counter()
        self.rows_read = 0
        self.recovered: list[tuple[str, int, str]] = []
        self.ids = validate.Ids()
        self._qfile = None
        if quarantine_path is not None:
            Path(quarantine_path).parent.mkdir(parents=True, exist_ok=True)
            self._qfile = open(quarantine_path, "w", encoding="utf-8")

    def note(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            key = (p.code, p.severity)
            self.counts[key] += 1
            if self.counts[key] <= MAX_PROBLEMS_PER_CODE:
                self.problems.append(p)

    def quarantine(self, rec: Record) -> None:
        errors = [p for p in rec.problems if p.severity == ERROR]
        codes = ",".join(dict.fromkeys(p.code for p in errors))
        q = Quarantined(self.ids.quarantine_id(rec), rec.line, codes, rec.raw, [p.to_dict() for p in rec.problems])
        self.quarantined.append(q)
        if self._qfile:
            self._qfile.write(q.to_json() + "\n")

    def close(self) -> None:
        if self._qfile:
            self._qfile.close()


def load_table(path: str | Path, format: str | None = None, quarantine_path: str | Path | None = None,
               max_tokens: int | None = None, tokenizer: str | None = None,
               options: dict[str, Any] | None = None) -> LoadResult:
    """Read ``path`` (format by name, or detected) into the canonical table; quarantine invalid rows.

    ``options`` go to the reader (e.g. the CSV column mapping). With
    ``max_tokens``, conversations longer than that many tokens of
    ``tokenizer`` (a local folder or ``smollm2``; default: an approximation)
    are quarantined as ``too_long``.
    """
    path = Path(path)
    source.check_readable(path)
    reader = choose.reader_for(path, format, options)
    counter = validate.TokenCounter(tokenizer) if max_tokens else None
    out = _Collector(Path(quarantine_path) if quarantine_path else None)
    try:
        for batch in _batches(reader.read(str(path)), out):
            _check_batch(batch, out, counter, max_tokens)
    finally:
        out.close()
    table = pl.concat(out.frames, how="diagonal_relaxed") if out.frames else schema.empty_table()
    out.problems.sort(key=lambda p: p.line)
    return LoadResult(schema.conform(table), out.quarantined, out.rows_read, reader.name, out.problems, out.counts,
                      counter.label if counter else None, out.recovered)


def _batches(items: Iterator[Record | Problem], out: _Collector) -> Iterator[list[Record]]:
    """Batches of records; file-level problems (blank lines, BOM) go straight to ``out``."""
    while True:
        batch = []
        for item in islice(items, BATCH):
            if isinstance(item, Problem):
                out.note([item])
            else:
                batch.append(item)
        if not batch:
            return
        yield batch


def _check_batch(batch: list[Record], out: _Collector, counter: validate.TokenCounter | None,
                 max_tokens: int | None) -> None:
    out.rows_read += len(batch)
    checked: list[tuple[Record, list[dict[str, Any]]]] = []
    for rec in batch:
        if rec.fields is None:
            continue
        validate.check_split(rec)
        turns = validate.check_messages(rec)
        if turns is not None and not is_error(rec.problems):
            checked.append((rec, turns))
    if counter is not None and checked:
        validate.check_lengths([r for r, _ in checked], [t for _, t in checked], counter, max_tokens)
    rows, columns = [], []
    good = {id(r): t for r, t in checked}
    for rec in batch:
        turns = good.get(id(rec))
        row_id = out.ids.claim(rec) if turns is not None and not is_error(rec.problems) else None
        out.note(rec.problems)
        if row_id is None:
            out.quarantine(rec)
            continue
        repairs = ",".join(p.code for p in rec.problems if p.code in RECOVERY_CODES)
        if repairs:
            out.recovered.append((row_id, rec.line, repairs))
        rows.append({**rec.fields, "id": row_id, "messages": turns})
        columns.append(rec.columns or {})
    if rows:
        frame = schema.from_rows(rows)
        if any(columns):
            frame = pl.concat([frame, pl.DataFrame(columns, infer_schema_length=None)], how="horizontal")
        out.frames.append(frame)
