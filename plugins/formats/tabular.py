"""CSV (with a column mapping) and Parquet (canonical columns).

CSV holds text only: empty cells read as absent, multi-turn conversations
and turn weights go to a ``messages`` column as JSON. Parquet is typed and
keeps every column, extra ones included.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from workbench.components import Options, Reader, Writer
from workbench.errors import WorkbenchError
from workbench.io import fastcsv, source
from workbench.io.problems import Problem, problem
from workbench.io.records import Batch, Record, batches_of, extension_of, take_fields

#: default guesses for each role of a CSV column, first match wins
GUESSES = {
    "prompt": ("prompt", "question", "input", "instruction", "user", "query"),
    "response": ("response", "answer", "output", "completion", "assistant", "reply"),
    "system": ("system", "system_prompt"),
    "label": ("label", "intent", "category"),
    "id": ("id",),
}


class CsvOptions(Options):
    prompt: str | None = Field(default=None, description="Column with the user's prompt (default: prompt, question, input, ...)")
    response: str | None = Field(default=None, description="Column with the answer (default: response, answer, output, ...)")
    system: str | None = Field(default=None, description="Column with the system prompt (default: system, system_prompt)")
    label: str | None = Field(default=None, description="Column with the label (default: label, intent, category)")
    id: str | None = Field(default=None, description="Column with the row id (default: id)")
    delimiter: str | None = Field(default=None, description="Field separator (default: tab for .tsv, else comma)")


class CsvReader(Reader):
    name = "csv"
    description = "CSV/TSV with a column mapping (prompt, response, system, label, id) or a messages JSON column"
    extensions = (".csv", ".tsv")
    Options = CsvOptions

    def detect(self, sample: Any) -> float:
        return 0.8 if sample.suffix in self.extensions else 0.0

    def read(self, path: str, **kwargs: Any) -> Iterator[Record | Problem]:
        p = Path(path)
        source.refuse_binary(p, source.head(p))
        csv.field_size_limit(source.MAX_RECORD_BYTES)
        with p.open(encoding="utf-8", errors="surrogateescape", newline="") as fh:
            rows = csv.reader(fh, delimiter=self._delimiter(p))
            header = next(rows, None) or []
            if header and header[0].startswith("\ufeff"):
                header[0] = header[0][1:]
                yield problem(1, None, "bom_removed", "a UTF-8 byte-order mark at the start of the file was removed")
            yield from self._records(rows, header, self._mapping(p, header), 0)

    def read_batches(self, path: str, size: int, fast: bool = True, build_rows: bool = True) -> Iterator[Batch]:
        """Batches of records; with ``fast``, blocks of well-formed records are parsed by polars and checked as a
        whole (:mod:`workbench.io.fastcsv`), and only their rows that fail a check become records."""
        p = Path(path)
        delimiter = self._delimiter(p)
        start = source.head(p, fastcsv.BYTES_PER_RECORD * size)
        end = fastcsv.header_end(start.removeprefix(source.BOM))
        if not fast or not end or len(delimiter.encode()) != 1:
            yield from batches_of(self.read(path), size)
            return
        source.refuse_binary(p, start[:source.SNIFF_BYTES])
        csv.field_size_limit(source.MAX_RECORD_BYTES)
        bom = start.startswith(source.BOM)
        header = next(self._csv_rows(start[len(source.BOM) if bom else 0:][:end], delimiter))
        self._fast_mapping = mapping = self._mapping(p, header)
        keys = fastcsv.renamed_columns(header, mapping)
        problems = [problem(1, None, "bom_removed", "a UTF-8 byte-order mark at the start of the file was removed")] if bom else []
        number = 0
        with p.open("rb") as fh:
            for block in fastcsv.blocks(fh, end + len(source.BOM) * bom, fastcsv.BYTES_PER_RECORD * size,
                                        ord(delimiter), len(header)):
                if not block.regular:  # where its records end is only what the csv module says: it reads the rest
                    text = io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")
                    text.seek(block.offset)
                    rest = self._records(csv.reader(text, delimiter=delimiter), header, mapping, number)
                    for batch in batches_of(rest, size):
                        batch.problems[:0], problems = problems, []
                        yield batch
                    return
                cells = self._polars_cells(block, header, delimiter) if keys is not None else None
                if cells is None or keys is None:  # no keys: the header has no fast path (cells is None too)
                    records = list(self._records(self._csv_rows(block.data, delimiter), header, mapping, number))
                    yield Batch(records=records, problems=problems)
                else:
                    control = source.CONTROL_CHARS.pattern if source.CONTROL_BYTES.search(block.data) else None
                    yield self._fast_batch(cells, keys, mapping, number, problems, control)
                number += block.records
                problems = []
        if problems:
            yield Batch(problems=problems)

    def _fast_batch(self, cells: Any, keys: dict[str, str], mapping: dict[str, str], number: int,
                    problems: list[Problem], control: str | None) -> Batch:
        import polars as pl

        from workbench.io.fastjson import FastRows
        from workbench.io.validate import derived_base

        header = cells.columns
        clean, rest = fastcsv.split_block(cells, keys, mapping, control)
        rows = clean["_row"].to_list()
        bases = [None if own is not None else derived_base(json.dumps(dict(zip(header, cells.row(r))), sort_keys=True)
                                                           .encode("utf-8", "replace"))
                 for own, r in zip(clean["id"].to_list(), rows)]
        clean = clean.with_columns((pl.col("_row") + number + 1).alias("_line"), pl.Series("_base", bases, dtype=pl.Utf8))
        records = [self._record(number + 1 + r, header, list(cells.row(r)), mapping) for r in rest]
        return Batch(records=records, problems=problems, fast=FastRows(clean.drop("_row"), _CellRows(cells, rows)))

    def fast_record(self, line: int, raw: dict[str, str]) -> Record:
        """The record of a row the fast path accepted (to report a repeated id)."""
        return self._record(line, list(raw), list(raw.values()), self._fast_mapping)

    @staticmethod
    def _polars_cells(block: fastcsv.Block, header: list[str], delimiter: str) -> Any:
        """The block's cells as text columns, or None when the csv module must read it (not UTF-8, a huge record)."""
        import polars as pl

        if len(block.data) > source.MAX_RECORD_BYTES:
            return None
        try:
            block.data.decode("utf-8")
            cells = pl.read_csv(block.data, has_header=False, new_columns=header, infer_schema=False,
                                separator=delimiter, empty_string_is_null=False)
        except (UnicodeDecodeError, pl.exceptions.PolarsError):
            return None
        return cells if cells.height == block.records else None

    @staticmethod
    def _csv_rows(data: bytes, delimiter: str) -> Iterator[list[str]]:
        return csv.reader(io.StringIO(data.decode("utf-8", "surrogateescape"), newline=""), delimiter=delimiter)

    def _delimiter(self, path: Path) -> str:
        return self.options.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")

    def _records(self, rows: Iterator[list[str]], header: list[str], mapping: dict[str, str],
                 number: int) -> Iterator[Record]:
        """Records from the csv module's rows, numbered after ``number``."""
        while True:
            number += 1
            try:
                cells = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(number, "", None, [problem(number, None, "invalid_csv", f"CSV error: {exc}")])
                continue
            yield self._record(number, header, cells, mapping)

    def _mapping(self, path: Path, header: list[str]) -> dict[str, str]:
        """Role -> column, from the options or the default guesses."""
        mapping = {}
        for role, guesses in GUESSES.items():
            chosen = getattr(self.options, role)
            if chosen is not None and chosen not in header:
                raise WorkbenchError(f"{path}: no column {chosen!r} for {role} (columns: {', '.join(header)})",
                                     hint=f"name one of the columns with --option {role}=COLUMN")
            found = chosen or next((c for c in guesses if c in header), None)
            if found:
                mapping[role] = found
        if "messages" not in header and not {"prompt", "response"} <= set(mapping):
            raise WorkbenchError(f"{path}: cannot tell which columns hold the prompt and the response "
                                 f"(columns: {', '.join(header) or 'none'})",
                                 hint="pass --option prompt=COLUMN --option response=COLUMN (or a messages column)")
        return mapping

    def _record(self, number: int, header: list[str], cells: list[str], mapping: dict[str, str]) -> Record:
        raw = dict(zip(header, cells))
        if len(cells) != len(header):
            return Record(number, raw or cells, None, [problem(
                number, None, "invalid_csv", f"record has {len(cells)} fields, the header has {len(header)}")])
        bad = [k for k, v in raw.items() if _has_bad_bytes(v)]
        if bad:
            return Record(number, {k: v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                                   for k, v in raw.items()},
                          None, [problem(number, bad[0], "invalid_utf8", f"invalid UTF-8 in column {bad[0]!r}")])
        control = next((k for k, v in raw.items() if source.CONTROL_CHARS.search(v)), None)
        if control is not None:
            return Record(number, raw, None, [problem(number, control, "control_bytes",
                                                      f"control bytes in column {control!r}")])
        taken: dict[str, str] = {mapping[r]: r for r in ("system", "prompt", "response") if r in mapping}
        obj = {("label" if c == mapping.get("label") else "id" if c == mapping.get("id") else c): v
               for c, v in raw.items() if v != "" and c not in taken}
        rec = take_fields(obj, ("messages",), number)
        rec.raw = raw
        rec.parsed["messages"], rec.paths = self._turns(raw, taken, rec)
        return rec

    @staticmethod
    def _turns(raw: dict[str, str], taken: dict[str, str], rec: Record) -> tuple[Any, list[str] | None]:
        if raw.get("messages"):
            try:
                return json.loads(raw["messages"]), None
            except json.JSONDecodeError as exc:
                rec.problems.append(problem(rec.line, "messages", "invalid_json", f"messages column: {exc.msg}"))
                return None, None
        turns, paths = [], []
        for column, role in taken.items():
            if role == "system" and not raw[column]:
                continue
            turns.append({"role": {"prompt": "user", "response": "assistant"}.get(role, role), "content": raw[column]})
            paths.append(column)
        return turns, paths


def _has_bad_bytes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class CsvWriter(Writer):
    name = "csv"
    description = "CSV: system, prompt, response (or a messages JSON column for other conversations) + fields"
    extensions = (".csv",)

    def write(self, table, path: str) -> None:
        rows = [self._row(r) for r in table.iter_rows(named=True)]
        header = list(dict.fromkeys(k for r in rows for k in r)) or ["system", "prompt", "response"]
        with open(path, "w", encoding="utf-8", newline="") as fh:
            out = csv.DictWriter(fh, fieldnames=header)
            out.writeheader()
            out.writerows(rows)

    @staticmethod
    def _row(row: dict[str, Any]) -> dict[str, Any]:
        turns = row.get("messages") or []
        roles = [t["role"] for t in turns]
        body_roles = roles[1:] if roles[:1] == ["system"] else roles
        if body_roles == ["user", "assistant"] and all(t.get("weight") is None for t in turns):
            pair = {"system": turns[0]["content"] if roles[0] == "system" else "",
                    "prompt": turns[-2]["content"], "response": turns[-1]["content"], "messages": ""}
        else:
            pair = {"system": "", "prompt": "", "response": "", "messages": json.dumps(
                [{k: v for k, v in t.items() if v is not None} for t in turns], ensure_ascii=False)}
        ext = extension_of(row)
        if "meta" in ext:
            ext["meta"] = json.dumps(ext["meta"], ensure_ascii=False, sort_keys=True)
        return {"id": ext.pop("id", ""), **pair, **{k: _cell(v) for k, v in ext.items()}}


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _CellRows:
    """Rows of a block's cells as the csv module's dicts, built only when asked for (a repeated id is rare)."""

    def __init__(self, cells: Any, rows: list[int]) -> None:
        self.cells, self.rows = cells, rows

    def __getitem__(self, j: int) -> dict[str, str]:
        return dict(zip(self.cells.columns, self.cells.row(self.rows[j])))


class ParquetReader(Reader):
    name = "parquet"
    description = "Parquet with the canonical columns; extra columns are kept"
    extensions = (".parquet",)

    def detect(self, sample: Any) -> float:
        return 1.0 if sample.head.startswith(b"PAR1") else 0.5 if sample.suffix in self.extensions else 0.0

    def read(self, path: str, **kwargs: Any) -> Iterator[Record | Problem]:
        for batch in self._arrow_batches(path, 2000):
            yield from (self.record_of(obj, number) for number, obj in batch.to_pylist_numbered())

    def read_batches(self, path: str, size: int, fast: bool = True, build_rows: bool = True) -> Iterator[Batch]:
        """Record batches of ``size`` rows; with ``fast``, a batch typed like the table is checked with
        vectorised expressions (:mod:`workbench.io.fastframe`) and only its other rows become records."""
        import polars as pl

        from workbench.io import fastframe
        from workbench.io.fastjson import FastRows

        for batch in self._arrow_batches(path, size):
            frame = pl.from_arrow(batch.batch) if fast else None
            if frame is None or not fastframe.typed_like_the_table(frame):
                yield Batch(records=[self.record_of(obj, n) for n, obj in batch.to_pylist_numbered()])
                continue
            clean, rest = fastframe.split_clean(frame)
            clean = clean.with_columns((pl.col("_row") + batch.first).alias("_line"), pl.lit(None, pl.Utf8).alias("_base"))
            rows = clean["_row"].to_list()
            records = [self.record_of(obj, n) for n, obj in batch.to_pylist_numbered(rest)] if rest else []
            yield Batch(records=records, fast=FastRows(clean.drop("_row"), _LazyRows(batch.batch, rows)))

    def fast_record(self, line: int, raw: dict[str, Any]) -> Record:
        """The record of a row the fast path accepted (to report a repeated id)."""
        return self.record_of(raw, line)

    @staticmethod
    def record_of(obj: dict[str, Any], number: int) -> Record:
        rec = take_fields(obj, ("messages",), number, keep_columns=True)
        rec.parsed["messages"] = obj.get("messages")
        return rec

    def _arrow_batches(self, path: str, size: int) -> Iterator[_NumberedBatch]:
        import pyarrow
        import pyarrow.parquet as pq

        number = 1
        try:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
                yield _NumberedBatch(batch, number)
                number += batch.num_rows
        except (pyarrow.ArrowException, OSError) as exc:
            raise WorkbenchError(f"{path} is not a readable Parquet file: {exc}",
                                 hint="check the file, or pass --format for its real format") from exc


class _LazyRows:
    """Rows of an Arrow batch as dicts, converted only when asked for (a repeated id is rare)."""

    def __init__(self, batch: Any, rows: list[int]) -> None:
        self.batch, self.rows = batch, rows

    def __getitem__(self, j: int) -> dict[str, Any]:
        return self.batch.slice(self.rows[j], 1).to_pylist()[0]


class _NumberedBatch:
    """An Arrow record batch and the record number (1-based) of its first row."""

    def __init__(self, batch: Any, first: int) -> None:
        self.batch, self.first = batch, first

    def to_pylist_numbered(self, rows: list[int] | None = None) -> list[tuple[int, dict[str, Any]]]:
        if rows is None:
            return list(enumerate(self.batch.to_pylist(), start=self.first))
        return [(self.first + r, obj) for r, obj in zip(rows, self.batch.take(rows).to_pylist())]


class ParquetWriter(Writer):
    name = "parquet"
    description = "Parquet with every column of the table"
    extensions = (".parquet",)

    def write(self, table, path: str) -> None:
        table.write_parquet(path)

    def write_frames(self, frames, path: str) -> None:
        """Each part becomes a Parquet file in a temporary folder; polars' streaming engine joins them
        (columns that only some parts have are null elsewhere) without holding the table."""
        import tempfile

        import polars as pl

        with tempfile.TemporaryDirectory(prefix="parts-", dir=Path(path).parent) as tmp:
            parts = []
            for number, frame in enumerate(frames):
                parts.append(Path(tmp) / f"{number:06d}.parquet")
                frame.write_parquet(parts[-1])
            if not parts:
                from workbench import schema

                schema.empty_table().write_parquet(path)
                return
            pl.concat([pl.scan_parquet(p) for p in parts], how="diagonal_relaxed").sink_parquet(path)


