"""The fast path for CSV: blocks of well-formed records parsed by polars, checked as a whole.

The file is read in blocks of whole records. A block is *regular* when its
quoting is RFC 4180's (a quote opens a field, ``""`` inside a quoted field,
a quote closes it before a separator or line break), it has no lone
carriage return and no blank record, and every record has as many fields as
the header: then Python's ``csv`` module and polars split it into the same
records, the n-th record of the block is record ``first + n`` of the file,
and polars parses it (multi-threaded). Quoted fields may hold line breaks:
the scan counts quotes, not lines. The checks are numpy passes over the
block's bytes (:func:`scan`).

A regular block with control bytes or bytes that are not UTF-8 is read by
the ``csv`` module record by record (its records are known to be the same);
an irregular block, and everything after it, too, since where its records
end is then only what the ``csv`` module says.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

#: bytes read at once for the fast path, per record of a batch (a block holds whole records)
BYTES_PER_RECORD = 512
QUOTE, LF, CR = ord('"'), ord("\n"), ord("\r")


@dataclass
class Block:
    """Whole records from the file: their bytes, where each ends, and whether the scan found them regular."""

    data: bytes
    #: offset in the file of ``data``'s first byte
    offset: int
    #: number of records in the block (0 when not regular)
    records: int
    regular: bool


def scan(data: bytes, separator: int, fields: int, at_eof: bool) -> tuple[int, int, bool]:
    """(bytes of whole records at the start of ``data``, how many records, whether they are regular).

    A record ends at a line feed outside quotes (an even number of quotes
    before it); at the end of the file the last record may lack one. Bytes 0
    with records 0: no whole record yet (read more), or nothing is left.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buf == QUOTE)
    feeds = np.flatnonzero(buf == LF)
    ends = feeds[np.searchsorted(quotes, feeds) % 2 == 0]
    complete = int(ends[-1]) + 1 if len(ends) else 0
    if at_eof and complete < len(data) and len(quotes) % 2 == 0:
        ends, complete = np.append(ends, len(data)), len(data)  # a last record without a line feed
    if complete == 0:
        return 0, 0, False
    quotes = quotes[quotes < complete]
    return complete, len(ends), _regular(buf[:complete], quotes, ends, separator, fields)


def _regular(buf: np.ndarray, quotes: np.ndarray, ends: np.ndarray, separator: int, fields: int) -> bool:
    """True when the records in ``buf`` (ending at ``ends``) are split the same by any RFC 4180 parser."""
    n = len(buf)
    index = np.arange(len(quotes))
    before = np.where(quotes > 0, buf[np.maximum(quotes - 1, 0)], LF)
    after = np.where(quotes + 1 < n, buf[np.minimum(quotes + 1, n - 1)], LF)
    escaped_before: np.ndarray = np.zeros(len(quotes), dtype=bool)
    escaped_before[1:] = quotes[1:] == quotes[:-1] + 1
    escaped_after: np.ndarray = np.zeros(len(quotes), dtype=bool)
    escaped_after[:-1] = quotes[:-1] + 1 == quotes[1:]
    opening_ok = (before == separator) | (before == LF) | (quotes == 0) | escaped_before
    closing_ok = (after == separator) | (after == LF) | (after == CR) | escaped_after
    if not np.all(np.where(index % 2 == 0, opening_ok, closing_ok)):
        return False
    returns = np.flatnonzero(buf == CR)
    if np.any((buf[np.minimum(returns + 1, n - 1)] != LF) | (returns == n - 1)):
        return False  # a lone carriage return ends a record for the csv module only
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts
    if np.any((lengths == 0) | ((lengths == 1) & (buf[np.minimum(starts, n - 1)] == CR))):
        return False  # a blank line is an empty record for the csv module, skipped by polars
    seps = np.flatnonzero(buf == separator)
    seps = seps[np.searchsorted(quotes, seps) % 2 == 0]
    per_record = np.diff(np.searchsorted(seps, np.concatenate(([-1], ends))))
    return bool(np.all(per_record == fields - 1))


def header_end(data: bytes) -> int:
    """Bytes of the header record at the start of ``data`` when it is plain (no quotes, no lone carriage
    return: both parsers read it alike); 0 otherwise."""
    end = data.find(b"\n") + 1
    header = data[:end]
    return end if end and QUOTE not in header and b"\r" not in header[:-2] else 0


def blocks(fh: BinaryIO, offset: int, block_bytes: int, separator: int, fields: int) -> Iterator[Block]:
    """Whole-record blocks of about ``block_bytes`` from ``offset`` on; a record longer than that grows the read."""
    fh.seek(offset)
    pending = b""
    size = block_bytes
    while True:
        chunk = fh.read(max(size - len(pending), 1))
        at_eof = not chunk
        data = pending + chunk
        if not data:
            return
        used, records, regular = scan(data, separator, fields, at_eof)
        if used == 0:
            if at_eof:  # an unterminated quoted field: only the csv module can say what it holds
                yield Block(data, offset, 0, False)
                return
            pending, size = data, size * 2
            continue
        yield Block(data[:used], offset, records, regular)
        offset += used
        pending, size = data[used:], block_bytes


def renamed_columns(header: list[str], mapping: dict[str, str]) -> dict[str, str] | None:
    """Column -> the record key the per-row reader gives it, for the columns that are not turns; None when
    the header does not suit the fast path (repeated names, keys the per-row reader warns about, no pair)."""
    from workbench.io.records import EXTENSION_FIELDS

    turns = {mapping[r] for r in ("system", "prompt", "response") if r in mapping}
    keys = {c: "label" if c == mapping.get("label") else "id" if c == mapping.get("id") else c
            for c in header if c not in turns}
    if len(set(header)) < len(header) or len(set(keys.values())) < len(keys) or \
            not {"prompt", "response"} <= set(mapping) or not set(keys.values()) <= {*EXTENSION_FIELDS, "messages"}:
        return None
    return keys


def split_block(cells, keys: dict[str, str], mapping: dict[str, str]):
    """(the rows no per-row check would flag, as the per-row path builds them, with ``_row``; the other rows' indices).

    ``cells`` is the block as polars read it (every column text). A row
    takes the per-row path when it has a ``messages`` or ``meta`` cell (JSON
    to decode) or fails :func:`workbench.io.fastframe.clean_rows`.
    """
    import polars as pl

    from workbench import schema
    from workbench.io import fastframe

    def text(column: str) -> pl.Expr:
        return pl.when(pl.col(column) != "").then(pl.col(column))

    def turn(role: str, column: str) -> pl.Expr:
        return pl.struct(role=pl.lit(role), content=pl.col(column), weight=pl.lit(None, pl.Int64))

    pair = [turn("user", mapping["prompt"]), turn("assistant", mapping["response"])]
    messages = pl.concat_list(pair)
    if "system" in mapping:
        messages = pl.when(pl.col(mapping["system"]) != "").then(
            pl.concat_list([turn("system", mapping["system"]), *pair])).otherwise(messages)
    fields = [text(c).alias(k) for c, k in keys.items() if k not in ("messages", "meta")]
    frame = cells.select(messages.cast(schema.MESSAGES).alias("messages"), *fields,
                         pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"))
    json_cells = [pl.col(c) != "" for c, k in keys.items() if k in ("messages", "meta")]
    plain = cells.select(~pl.any_horizontal(json_cells) if json_cells else pl.lit(True)).to_series()
    ok = plain & fastframe.clean_rows(frame.with_columns(pl.lit("-").alias("id")))  # a missing id is derived later
    return schema.conform(frame.filter(ok)), frame.filter(~ok)["_row"].to_list()
