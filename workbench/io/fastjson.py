"""The fast path for well-formed chat JSONL lines: one compiled decode per batch, per-line checks only for the rest.

A batch of raw lines is decoded by msgspec in one call against a strict
schema of a valid chat record (types exact, no unknown keys, roles and
weights from the allowed values, at least one turn, UTF-8 checked); a short
test per record covers what a schema cannot say (text in every turn, an
assistant turn, weights on assistant turns only, turn order); the clean
records become Arrow arrays and one polars frame. A line that fails any of
this goes back to the per-line checks of :mod:`workbench.io.validate`, which
name the problem: the fast path only decides that a line is clean, never
what is wrong with it, and gives the same table as the per-line path
(tests/test_load_streaming.py compares them).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Annotated, Any, Literal

import msgspec
import polars as pl

from workbench import schema
from workbench.io import source
from workbench.io.validate import derived_base


class _Turn(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["system", "user", "assistant"]
    content: str
    weight: Literal[0, 1] | None = None


class _ChatRecord(msgspec.Struct, forbid_unknown_fields=True):
    messages: Annotated[list[_Turn], msgspec.Meta(min_length=1)]
    id: str | None = None
    label: str | None = None
    expected_behavior: str | None = None
    scenario: str | None = None
    source_id: str | None = None
    origin: str | None = None
    split: Literal["train", "validation", "test"] | None = None


_DECODER = msgspec.json.Decoder(_ChatRecord)
#: lines per compiled call: a bad line costs at most one call's work again
CHUNK = 256
#: the columns a fast line can hold (``meta`` and unknown keys take the per-line path)
FAST_SCHEMA = {c: t for c, t in schema.SCHEMA.items() if c != "meta"}


@dataclass
class FastRows:
    """Rows of a batch that passed every check: the frame (with ``_line`` and ``_base``, the derived id of a row
    without one), what the reader needs to rebuild each as a record (``Reader.fast_record``), and the other lines."""

    frame: pl.DataFrame | None
    raw: Any = field(default_factory=list)
    #: (line number, bytes, too_long) of the lines for the per-line checks
    rest: list[tuple[int, bytes, bool]] = field(default_factory=list)


def split_batch(lines: list[tuple[int, bytes, bool]], build_rows: bool = True) -> FastRows:
    """Separate the clean chat lines of a batch (as a frame) from those the per-line checks must look at.

    Without ``build_rows`` (validation only) the frame holds just the ids and line numbers.
    """
    candidates, rest = [], []
    for entry in lines:
        number, data, too_long = entry
        if too_long or data.startswith(source.BOM) or not data.strip():
            rest.append(entry)
        else:
            candidates.append((number, data.rstrip(b"\r\n"), data))
    if not candidates:
        return FastRows(None, [], rest)
    datas = [d for _, d, _ in candidates]
    decoded = [rec for i in range(0, len(datas), CHUNK) for rec in _decode_lines(datas[i:i + CHUNK])]
    lines_ok, raws, records = [], [], []
    for (number, data, original), rec in zip(candidates, decoded):
        if rec is not None and _clean(rec):
            lines_ok.append(number)
            raws.append(data)
            records.append(rec)
        else:
            rest.append((number, original, False))
    if not records:
        return FastRows(None, [], _in_order(rest))
    frame = _frame(records) if build_rows else pl.DataFrame({"id": [r.id for r in records]}, schema={"id": pl.Utf8})
    frame = frame.with_columns(
        pl.Series("_line", lines_ok, dtype=pl.Int64),
        pl.Series("_base", [derived_base(d) if r.id is None else None for d, r in zip(raws, records)], dtype=pl.Utf8))
    return FastRows(frame, raws, _in_order(rest))


def _decode_lines(lines: list[bytes]) -> list[_ChatRecord | None]:
    """Each line's record, None where a line is not a clean chat record; one compiled call per run of good lines.

    When a call fails, the error locates the line (``$[i]``, or a byte
    offset); the lines before it are decoded together again, the line is set
    aside, and decoding goes on after it. A failure that cannot be placed is
    resolved line by line. Values are trusted only when there is exactly one
    per line (a line is never joined to the next, which splitting on line
    breaks guarantees).
    """
    out: list[_ChatRecord | None] = []
    start = 0
    while start < len(lines):
        segment = lines[start:]
        try:
            records = _DECODER.decode_lines(b"\n".join(segment))
            if len(records) == len(segment):
                return out + records
            bad = None
        except msgspec.ValidationError as exc:
            bad = _failed_line(str(exc), segment)
        except (msgspec.DecodeError, RecursionError) as exc:
            bad = _failed_line(str(exc), segment)
        if bad is None or _decoded(segment[bad]) is not None:
            return out + [_decoded(line) for line in segment]
        out += _decode_lines(segment[:bad]) + [None]
        start += bad + 1
    return out


def _failed_line(message: str, segment: list[bytes]) -> int | None:
    """The index of the line an msgspec error points at: ``$[i]``, ``(byte n)``, or the last for truncated input."""
    if match := re.search(r"at `\$\[(\d+)\]", message):
        index = int(match.group(1))
    elif match := re.search(r"\(byte (\d+)\)", message):
        starts = list(accumulate((len(line) + 1 for line in segment[:-1]), initial=0))
        index = bisect_right(starts, int(match.group(1))) - 1
    elif "truncated" in message:
        index = len(segment) - 1
    else:
        return None
    return index if 0 <= index < len(segment) else None


def _decoded(data: bytes) -> _ChatRecord | None:
    try:
        return _DECODER.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None


def _in_order(rest: list[tuple[int, bytes, bool]]) -> list[tuple[int, bytes, bool]]:
    return sorted(rest, key=lambda entry: entry[0])


def _clean(rec: _ChatRecord) -> bool:
    """True when no per-turn check would flag the record: text in every turn, an assistant turn, weights on
    assistant turns only, a system turn only first, no two turns in a row from one role (the same tests as
    :func:`workbench.io.validate.check_messages`, on values the schema already typed)."""
    previous, answered = None, False
    for i, turn in enumerate(rec.messages):
        role = turn.role
        if not turn.content.strip() or (turn.weight is not None and role != "assistant"):
            return False
        if i and (role == previous or role == "system"):
            return False
        answered = answered or role == "assistant"
        previous = role
    return answered


def _frame(records: list[_ChatRecord]) -> pl.DataFrame:
    """The canonical columns of clean records, built as Arrow arrays (no Python dict per row)."""
    import pyarrow as pa

    turns = [t for r in records for t in r.messages]
    offsets = [0]
    for r in records:
        offsets.append(offsets[-1] + len(r.messages))
    messages = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.StructArray.from_arrays(
        [pa.array([t.role for t in turns], pa.large_string()), pa.array([t.content for t in turns], pa.large_string()),
         pa.array([t.weight for t in turns], pa.int64())], names=["role", "content", "weight"]))
    columns = {"id": [r.id for r in records], "messages": messages}
    for name in FAST_SCHEMA:
        if name not in columns:
            columns[name] = [getattr(r, name) for r in records]
    table = pa.table({name: value if name == "messages" else pa.array(value, pa.large_string())
                      for name, value in columns.items()})
    return pl.from_arrow(table).cast(FAST_SCHEMA)
