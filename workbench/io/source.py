"""Reading files safely: clear errors for unusable files, bounded memory per record.

Text formats are read line by line (or item by item for a JSON array), so a
file of any size streams; one record may hold at most ``MAX_RECORD_BYTES``
bytes, a longer one is reported as ``line_too_long`` and skipped without
being held in memory.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from workbench.errors import WorkbenchError
from workbench.io.problems import Problem, is_error, problem

#: the largest record (line, array item, CSV record) read; larger ones are quarantined
MAX_RECORD_BYTES = 16 * 1024 * 1024
SNIFF_BYTES = 64 * 1024
BOM = codecs.BOM_UTF8
#: a parsed record is missing (invalid JSON, bad bytes, too long)
UNPARSED = object()
_SPACE = re.compile(r"[ \t\r\n]*")


def check_readable(path: Path) -> None:
    """Raise a one-line error for a missing file, a folder or an empty file."""
    if not path.exists():
        raise WorkbenchError(f"{path}: no such file", hint="check the path (relative paths start at the current folder)")
    if path.is_dir():
        raise WorkbenchError(f"{path} is a folder, not a data file", hint="pass the path of one file")
    if path.stat().st_size == 0:
        raise WorkbenchError(f"{path} is empty", hint="the file has no records; check that it was written completely")


def head(path: Path, size: int = SNIFF_BYTES) -> bytes:
    with path.open("rb") as fh:
        return fh.read(size)


#: C0 control bytes that never belong in a text record (tab, line feed and carriage return do)
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_CHARS = re.compile(CONTROL_BYTES.pattern.decode())
#: share of sampled bytes that must be text for a file to be read as text
TEXT_SHARE = 0.5


def not_text_share(sample: bytes) -> float:
    """The share of ``sample``'s bytes that are control bytes or not UTF-8 (0 for an empty sample)."""
    if not sample:
        return 0.0
    decoder = codecs.getincrementaldecoder("utf-8")("ignore")
    text = decoder.decode(sample, final=False)  # a character cut at the end of the sample is held back
    invalid = len(sample) - len(decoder.getstate()[0]) - len(text.encode("utf-8"))
    return (len(CONTROL_BYTES.findall(sample)) + invalid) / len(sample)


def looks_binary(sample: bytes) -> bool:
    """True when most of the sampled bytes are not text (a stray NUL or bad byte is not enough)."""
    return not_text_share(sample) > 1 - TEXT_SHARE


def refuse_binary(path: Path, sample: bytes) -> None:
    """Raise for a file that is not text: most of its first bytes are control bytes or not UTF-8.

    A text file with some bad lines is read: each such line is quarantined on
    its own (``control_bytes``, ``invalid_utf8``) and the rest loads.
    """
    if looks_binary(sample):
        share = not_text_share(sample)
        raise WorkbenchError(f"{path} looks like a binary file, not text ({share:.0%} of its first "
                             f"{len(sample)} bytes are control bytes or not UTF-8)",
                             hint="pass a JSONL, JSON, CSV or Parquet file, or --format for a registered binary format")


@dataclass
class Item:
    """One record's text as found in the file, parsed when possible."""

    line: int
    raw: str
    obj: Any = UNPARSED
    problems: list[Problem] = field(default_factory=list)


def _bounded_lines(fh: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """Lines of at most MAX_RECORD_BYTES; (prefix, True) for a longer line, whose rest is skipped."""
    while True:
        line = fh.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
            while True:  # skip to the end of the line in bounded chunks
                rest = fh.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line[:1000], True
        else:
            yield line, False


def iter_text_lines(path: Path) -> Iterator[Item | Problem]:
    """Decoded lines as Items (``obj`` unset); blank lines become Problems.

    A byte-order mark at the start of any line (concatenated exports of
    Windows tools put one mid-file) is removed with a ``bom_removed`` warning
    on that record; a line with control bytes is an Item with a
    ``control_bytes`` error, so only that line is quarantined.
    """
    with path.open("rb") as fh:
        for number, (data, too_long) in enumerate(_bounded_lines(fh), start=1):
            yield line_item(number, data, too_long)


def line_item(number: int, data: bytes, too_long: bool = False) -> Item | Problem:
    """One raw line as an Item (or a ``blank_line`` Problem), with its line-level problems."""
    warnings = []
    if data.startswith(BOM):
        data = data[len(BOM):]
        warnings.append(problem(number, None, "bom_removed", "a UTF-8 byte-order mark at the start of the line was removed"))
    if too_long:
        return Item(number, data.decode("utf-8", "replace") + "...", problems=warnings + [problem(
            number, None, "line_too_long", f"line is longer than {MAX_RECORD_BYTES} bytes")])
    bad = CONTROL_BYTES.search(data)
    if bad:
        return Item(number, data.decode("utf-8", "replace").rstrip("\r\n"), problems=warnings + [problem(
            number, None, "control_bytes", f"control byte 0x{bad.group()[0]:02x} at byte {bad.start() + 1}")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Item(number, data.decode("utf-8", "replace").rstrip("\r\n"), problems=warnings + [problem(
            number, None, "invalid_utf8", f"invalid UTF-8 byte at column {exc.start + 1}")])
    if not text.strip():
        return problem(number, None, "blank_line", "blank line")
    return Item(number, text.rstrip("\r\n"), problems=warnings)


def iter_line_batches(path: Path, size: int) -> Iterator[list[tuple[int, bytes, bool]]]:
    """Raw lines in batches of ``size``: (1-based line number, bytes, whether the line was cut at MAX_RECORD_BYTES)."""
    with path.open("rb") as fh:
        lines = enumerate(_bounded_lines(fh), start=1)
        while True:
            batch = [(number, data, too_long) for number, (data, too_long) in islice(lines, size)]
            if not batch:
                return
            yield batch


def parse(item: Item) -> Item:
    if is_error(item.problems):
        return item
    try:
        item.obj = json.loads(item.raw)
    except json.JSONDecodeError as exc:
        item.problems.append(problem(item.line, None, "invalid_json", f"invalid JSON: {exc.msg} at column {exc.colno}"))
    except RecursionError:
        item.problems.append(problem(item.line, None, "invalid_json", "invalid JSON: nested too deeply"))
    return item


def iter_json_items(path: Path) -> Iterator[Item | Problem]:
    """Records of a JSONL file, or of a JSON array file (first character ``[``)."""
    refuse_binary(path, head(path))
    if first_char(path) == "[":
        yield from iter_array_items(path)
    else:
        for entry in iter_text_lines(path):
            yield parse(entry) if isinstance(entry, Item) else entry


def first_char(path: Path) -> str:
    """The first non-blank character of a text file (after a BOM), or ''."""
    data = head(path, 4096).removeprefix(BOM)
    stripped = data.lstrip()
    return chr(stripped[0]) if stripped else ""


class _ArrayScanner:
    """Walks a JSON array item by item, reading more of the file only when needed."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.chunk = 1 << 20

    def more(self) -> bool:
        if self.eof:
            return False
        data = self.fh.read(self.chunk)
        self.chunk = min(self.chunk * 2, MAX_RECORD_BYTES)
        if self.pos > (1 << 20):  # forget what was consumed
            self.buf, self.pos = self.buf[self.pos:], 0
        self.buf += self.decoder.decode(data, final=not data)
        self.eof = not data
        return True

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def skip_space(self) -> str:
        """Move past white space; return the next character ('' at the end)."""
        while True:
            space = _SPACE.match(self.buf, self.pos)  # matches the empty string too: never None
            self.advance(space.end() if space else self.pos)
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""


def iter_array_items(path: Path) -> Iterator[Item | Problem]:
    """Items of a JSON array file with their starting line; the rest of a broken array is one invalid item."""
    decoder = json.JSONDecoder()
    with path.open("rb") as fh:
        scan = _ArrayScanner(fh)
        try:
            scan.more()
            if scan.buf.startswith("\ufeff"):
                scan.buf = scan.buf[1:]
                yield problem(1, None, "bom_removed", "a UTF-8 byte-order mark at the start of the file was removed")
            scan.skip_space()
            scan.advance(scan.pos + 1)  # the opening '['
            expect_item = True
            while True:
                ch = scan.skip_space()
                if ch == "]" or (ch == "" and not expect_item):
                    break
                if not expect_item:
                    if ch != ",":
                        yield _broken_rest(scan, "expected ',' or ']' between array items")
                        return
                    scan.advance(scan.pos + 1)
                    expect_item = True
                    continue
                item = _next_array_item(scan, decoder)
                yield item
                if item.obj is UNPARSED:
                    return
                expect_item = False
            scan.advance(scan.pos + 1)
            if scan.skip_space():
                yield _broken_rest(scan, "data after the end of the JSON array")
        except UnicodeDecodeError as exc:
            yield Item(scan.line, scan.buf[scan.pos:scan.pos + 1000], problems=[problem(
                scan.line, None, "invalid_utf8", f"invalid UTF-8 byte ({exc.reason}); the rest of the file is not read")])


def _next_array_item(scan: _ArrayScanner, decoder: json.JSONDecoder) -> Item:
    reason = "incomplete item"
    while True:
        try:
            obj, end = decoder.raw_decode(scan.buf, scan.pos)
            complete = end < len(scan.buf) or scan.eof
        except json.JSONDecodeError as exc:
            obj, end, complete, reason = UNPARSED, 0, False, exc.msg
        except RecursionError:
            return _broken_rest(scan, "nested too deeply")
        if complete and obj is not UNPARSED:
            item = Item(scan.line, scan.buf[scan.pos:end], obj)
            scan.advance(end)
            return item
        if len(scan.buf) - scan.pos > MAX_RECORD_BYTES:
            return _broken_rest(scan, f"array item longer than {MAX_RECORD_BYTES} bytes", code="line_too_long")
        if not scan.more():
            return _broken_rest(scan, reason)


def _broken_rest(scan: _ArrayScanner, why: str, code: str = "invalid_json") -> Item:
    """The unreadable rest of an array, as one quarantined item (text capped at 10,000 characters)."""
    line = scan.line
    text = scan.buf[scan.pos:scan.pos + 10_000]
    scan.pos = len(scan.buf)
    return Item(line, text, problems=[problem(line, None, code, f"invalid JSON array: {why}; the rest is not read")])
