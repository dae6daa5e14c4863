"""``load_table``: any supported file -> canonical table + quarantine, nothing lost.

Records stream from the reader in batches (:class:`TableStream`); each
batch is checked (:mod:`workbench.io.validate`, or the compiled fast path of
:mod:`workbench.io.fastjson` for clean chat JSONL lines), its valid rows
become a small polars frame and its invalid ones go to the quarantine (file
and ``LoadResult.quarantined``). ``load_table`` keeps the frames; ``workbench
validate`` and ``convert`` consume them one by one, so their memory is bounded
by the batch, not the file. ``rows_read == rows_valid + rows_quarantined``
always holds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench import schema
from workbench.io import choose, source, validate
from workbench.io.problems import ERROR, Problem, is_error, problem
from workbench.io.records import Batch, Record, batches_of

if TYPE_CHECKING:
    from workbench.components import Reader

#: lines (records) per batch: bounds memory, and is large enough for the fast path's compiled checks
BATCH = 20_000
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
    rows_valid: int = 0
    #: every quarantined record, also when ``quarantined`` was not kept (streaming validation)
    rows_quarantined: int = 0


class _Collector:
    """Accumulates rows, quarantine and problems while batches stream through."""

    def __init__(self, quarantine_path: Path | None, keep_quarantined: bool = True) -> None:
        self.quarantined: list[Quarantined] = []
        self.keep_quarantined = keep_quarantined
        self.rows_valid = self.rows_quarantined = 0
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
        self.rows_quarantined += 1
        if self.keep_quarantined:
            self.quarantined.append(q)
        if self._qfile:
            self._qfile.write(q.to_json() + "\n")

    def close(self) -> None:
        if self._qfile:
            self._qfile.close()


def load_table(path: str | Path, format: str | None = None, quarantine_path: str | Path | None = None,
               max_tokens: int | None = None, tokenizer: str | None = None,
               options: dict[str, Any] | None = None, fast: bool = True, reader: Reader | None = None) -> LoadResult:
    """Read ``path`` (format by name, or detected) into the canonical table; quarantine invalid rows.

    ``options`` go to the reader (e.g. the CSV column mapping). With
    ``max_tokens``, conversations longer than that many tokens of
    ``tokenizer`` (a local folder or ``smollm2``; default: an approximation)
    are quarantined as ``too_long``. ``fast=False`` checks every line one by
    one (the reference the fast path is compared with). ``reader``: a built reader instead of the registry's.
    """
    stream = TableStream(path, format, quarantine_path, max_tokens, tokenizer, options, fast=fast, reader=reader)
    frames = list(stream)
    table = pl.concat(frames, how="diagonal_relaxed") if frames else schema.empty_table()
    return stream.result(schema.conform(table))


class TableStream:
    """Loads a file batch by batch: iterating yields the valid rows as frames, ``result()`` then tells the rest.

    Memory holds one batch, the problems kept (capped per code), 8 bytes per
    row for the id check, and, with ``keep_quarantined``, the quarantined
    records; ``workbench validate`` and ``convert`` use it with
    ``keep_quarantined=False`` (the quarantine file still gets every one).
    """

    def __init__(self, path: str | Path, format: str | None = None, quarantine_path: str | Path | None = None,
                 max_tokens: int | None = None, tokenizer: str | None = None,
                 options: dict[str, Any] | None = None, *, fast: bool = True, keep_quarantined: bool = True,
                 batch_lines: int = BATCH, build_rows: bool = True, reader: Reader | None = None) -> None:
        self.path = Path(path)
        source.check_readable(self.path)
        #: ``reader``: a built reader to use instead of the registry's (a plugin's tests read with theirs)
        self.reader = reader or choose.reader_for(self.path, format, options)
        self.max_tokens = max_tokens
        self.counter = validate.TokenCounter(tokenizer) if max_tokens else None
        # token limits count each conversation's turns: those lines take the per-line path
        self.fast = fast and max_tokens is None
        self.batch_lines = batch_lines
        #: False: check only (``workbench validate``); no frames are built and iterating yields none
        self.build_rows = build_rows
        self.out = _Collector(Path(quarantine_path) if quarantine_path else None, keep_quarantined)

    def __iter__(self) -> Iterator[pl.DataFrame]:
        try:
            for batch in self._batches():
                frame = _check_batch(batch, self.out, self.reader, self.counter, self.max_tokens, self.build_rows)
                if frame is not None:
                    yield frame
        finally:
            self.out.close()

    def _batches(self) -> Iterator[Batch]:
        read_batches = getattr(self.reader, "read_batches", None)
        if read_batches is not None:
            return read_batches(str(self.path), self.batch_lines, fast=self.fast, build_rows=self.build_rows)
        return batches_of(self.reader.read(str(self.path)), self.batch_lines)

    def result(self, table: pl.DataFrame | None = None) -> LoadResult:
        """The outcome once the frames were consumed; ``table`` is what the caller kept of them (default: none)."""
        out = self.out
        out.problems.sort(key=lambda p: p.line)
        return LoadResult(table if table is not None else schema.empty_table(), out.quarantined, out.rows_read,
                          self.reader.name, out.problems, out.counts, self.counter.label if self.counter else None,
                          out.recovered, out.rows_valid, out.rows_quarantined)


def _check_batch(batch: Batch, out: _Collector, reader, counter: validate.TokenCounter | None,
                 max_tokens: int | None, build_rows: bool = True) -> pl.DataFrame | None:
    """Check one batch; quarantine its invalid records and return its valid rows in file order."""
    out.note(batch.problems)
    records = batch.records
    fast = batch.fast.frame if batch.fast is not None else None
    out.rows_read += len(records) + (fast.height if fast is not None else 0)
    good = _check_records(records, counter, max_tokens)
    # every valid record in file order: (line, 0, index in records) or (line, 1, index in the fast frame)
    order = [(rec.line, 0, i) for i, rec in enumerate(records) if id(rec) in good]
    wanted_fast: list[tuple[str, bool]] = []
    if fast is not None and fast.height:
        order += [(line, 1, j) for j, line in enumerate(fast["_line"].to_list())]
        if records:
            order.sort()
        own = fast["id"].to_list()
        wanted_fast = [(i, True) if i is not None else (b, False) for i, b in zip(own, fast["_base"].to_list())]
    wanted = [wanted_fast[j] if kind else _wanted(records[j]) for _, kind, j in order]
    claimed = out.ids.claim_batch(wanted)
    rows, columns, fast_rows, fast_ids = [], [], [], []
    for (line, kind, j), row_id in zip(order, claimed):
        if kind:
            if row_id is not None:
                fast_rows.append(j)
                fast_ids.append(row_id)
                continue
            rec = reader.fast_record(line, batch.fast.raw[j])  # a repeated id: the per-line path reports it
            if (turns := _checked_turns(rec)) is not None:
                good[id(rec)] = turns
            records.append(rec)
        else:
            rec = records[j]
        if row_id is None:
            rec.problems.append(problem(rec.line, "id", "duplicate_id",
                                        f"id {rec.fields.get('id')!r} was already used by an earlier record"))
            good.pop(id(rec), None)
            continue
        repairs = ",".join(p.code for p in rec.problems if p.code in RECOVERY_CODES)
        if repairs:
            out.recovered.append((row_id, rec.line, repairs))
        rows.append({**rec.fields, "id": row_id, "messages": good[id(rec)], "_line": rec.line})
        columns.append(rec.columns or {})
    for rec in sorted(records, key=lambda r: r.line):
        out.note(rec.problems)
        if id(rec) not in good:
            out.quarantine(rec)
    if not build_rows:
        out.rows_valid += len(fast_rows) + len(rows)
        return None
    frames = []
    if fast_rows:
        frames.append(_fast_frame(fast, fast_rows, fast_ids))
    if rows:
        frame = schema.from_rows(rows).with_columns(pl.Series("_line", [r["_line"] for r in rows], dtype=pl.Int64))
        if any(columns):
            frame = pl.concat([frame, pl.DataFrame(columns, infer_schema_length=None)], how="horizontal")
        frames.append(frame)
    if not frames:
        return None
    table = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed").sort("_line")
    out.rows_valid += table.height
    return schema.conform(table.drop("_line"))


def _check_records(records: list[Record], counter: validate.TokenCounter | None,
                   max_tokens: int | None) -> dict[int, list[dict[str, Any]]]:
    """id(record) -> its canonical turns, for the records that pass every per-line check."""
    checked = {id(rec): turns for rec in records if (turns := _checked_turns(rec)) is not None}
    if counter is not None and max_tokens is not None and checked:
        valid = [rec for rec in records if id(rec) in checked]
        validate.check_lengths(valid, [checked[id(r)] for r in valid], counter, max_tokens)
        checked = {id(r): checked[id(r)] for r in valid if not is_error(r.problems)}
    return checked


def _checked_turns(rec: Record) -> list[dict[str, Any]] | None:
    if rec.fields is None:
        return None
    validate.check_split(rec)
    turns = validate.check_messages(rec)
    return turns if turns is not None and not is_error(rec.problems) else None


def _wanted(rec: Record) -> tuple[str, bool]:
    """(the id a valid record asks for, whether it is its own)."""
    own = rec.parsed.get("id")
    return (own, True) if own is not None else (validate.derived_base(validate.raw_bytes(rec)), False)


def _fast_frame(fast: pl.DataFrame, keep: list[int], ids: list[str]) -> pl.DataFrame:
    frame = fast if len(keep) == fast.height else fast[keep]
    return frame.with_columns(pl.Series("id", ids, dtype=pl.Utf8)).with_columns(
        pl.coalesce("source_id", "id").alias("source_id")).drop("_base")
