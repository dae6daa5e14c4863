"""Shared machinery of the JSON formats: records from JSONL or a JSON array, and back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from workbench.components import Reader, Writer
from workbench.errors import WorkbenchError
from workbench.io import source
from workbench.io.problems import Problem, problem
from workbench.io.records import Batch, Record, batches_of, take_fields

JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean",
              type(None): "null"}


class JsonReader(Reader):
    """Reads JSONL, or a JSON array, and converts each object with ``convert``.

    ``signature`` keys identify the format during detection; ``own_keys`` are
    the format's keys (the rest are extension fields or extra keys).
    """

    extensions: ClassVar[tuple[str, ...]] = (".jsonl", ".json")
    signature: ClassVar[tuple[str, ...]] = ()
    own_keys: ClassVar[tuple[str, ...]] = ()
    #: keep unknown keys as table columns instead of in meta
    keep_columns: ClassVar[bool] = False

    #: lines of a well-formed file may take the compiled fast path (:mod:`workbench.io.fastjson`)
    fast_path: ClassVar[bool] = False

    def read(self, path: str, **kwargs: Any) -> Iterator[Record | Problem]:
        for item in source.iter_json_items(Path(path)):
            yield item if isinstance(item, Problem) else self.record_of(item)

    def read_batches(self, path: str, size: int, fast: bool = True, build_rows: bool = True) -> Iterator[Batch]:
        """Batches of ``size`` lines; with ``fast``, a JSONL file's clean lines come as one frame per batch
        (only their ids and line numbers without ``build_rows``)."""
        p = Path(path)
        if not (fast and self.fast_path) or source.first_char(p) == "[":
            yield from batches_of(self.read(path), size)
            return
        from workbench.io import fastjson

        source.refuse_binary(p, source.head(p))
        for lines in source.iter_line_batches(p, size):
            split = fastjson.split_batch(lines, build_rows)
            batch = Batch(fast=split)
            for number, data, too_long in split.rest:
                item = source.line_item(number, data, too_long)
                if isinstance(item, Problem):
                    batch.problems.append(item)
                else:
                    batch.records.append(self.record_of(source.parse(item)))
            yield batch

    def fast_record(self, line: int, raw: bytes) -> Record:
        """The record of a line the fast path accepted (to report a repeated id)."""
        item = source.line_item(line, raw)
        assert isinstance(item, source.Item), "the fast path accepts no blank line"
        return self.record_of(source.parse(item))

    def record_of(self, item: source.Item) -> Record:
        """The record of one JSON item (its problems when it could not be parsed or is not an object)."""
        if item.obj is source.UNPARSED:
            return Record(item.line, item.raw, None, item.problems)
        if not isinstance(item.obj, dict):
            kind = JSON_TYPES.get(type(item.obj), type(item.obj).__name__)
            return Record(item.line, item.raw, None, item.problems + [problem(
                item.line, None, "not_object", f"record is a JSON {kind}, not an object")])
        rec = take_fields(item.obj, self.own_keys, item.line, keep_columns=self.keep_columns)
        rec.raw = item.raw
        rec.problems[:0] = item.problems  # what reading the line recovered from (bom_removed)
        self.convert(item.obj, rec)
        return rec

    def convert(self, obj: dict[str, Any], rec: Record) -> None:
        """Set ``rec.fields["messages"]`` (and ``rec.paths``) from the source object."""
        raise NotImplementedError

    def detect(self, sample: Any) -> float:
        """0.9 times the share of sampled records that carry every signature key."""
        objects = [r for r in sample.records if isinstance(r, dict)]
        if not objects or not self.signature:
            return 0.0
        return 0.9 * sum(all(k in r for k in self.signature) for r in objects) / len(objects)


class JsonWriter(Writer):
    """Writes one object per row: JSONL, or a JSON array when the file name ends in ``.json``."""

    extensions: ClassVar[tuple[str, ...]] = ()

    def write(self, table, path: str) -> None:
        self.write_frames([table], path)

    def write_frames(self, frames, path: str) -> None:
        """Write the rows of each frame in turn (a table arriving in parts is never held whole)."""
        as_array = Path(path).suffix.lower() == ".json"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("[\n" if as_array else "")
            sep = ""
            for table in frames:
                for chunk in table.iter_slices(5000):
                    for row in chunk.iter_rows(named=True):
                        fh.write(sep + json.dumps(self.to_object(row), ensure_ascii=False, default=str))
                        sep = ",\n" if as_array else "\n"
            fh.write("\n]\n" if as_array else sep)

    def to_object(self, row: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


def single_exchange(row: dict[str, Any], fmt: str) -> tuple[str | None, str, str]:
    """(system, user, assistant) of a one-exchange row; a clear error for anything a pair format cannot hold."""
    turns = row.get("messages") or []
    roles = [t["role"] for t in turns]
    if roles and roles[0] == "system":
        system, rest = turns[0]["content"], turns[1:]
    else:
        system, rest = None, turns
    if [t["role"] for t in rest] != ["user", "assistant"] or any(t.get("weight") == 0 for t in turns):
        raise WorkbenchError(
            f"row {row.get('id')!r} cannot be written as {fmt}: it has the turns {'/'.join(map(str, roles))}"
            f"{' with a weight 0 turn' if any(t.get('weight') == 0 for t in turns) else ''}; "
            f"{fmt} holds one optional system turn, one user turn and one assistant turn",
            hint="write openai-chat or workbench-jsonl, which keep whole conversations")
    return system, rest[0]["content"], rest[1]["content"]
