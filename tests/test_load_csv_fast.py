"""CSV's fast path (polars over blocks of well-formed records) gives exactly what the csv module and the
per-row checks give: same table, quarantine, problems and record numbers."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest
from test_load_streaming import same_load

from workbench.io import fastcsv, load_table
from workbench.io.loader import TableStream


@pytest.fixture(autouse=True)
def _formats_host(monkeypatch):
    monkeypatch.setattr("workbench.runtime.discovery.DEFAULT_PLUGINS", ("workbench.plugins.formats", "workbench.plugins.steps"))


HEADER = ["id", "system", "prompt", "response", "label", "split", "messages", "meta"]


def regular_rows(n: int, seed: int = 0) -> list[list[str]]:
    """Rows every RFC 4180 parser splits alike, with every kind of row the per-row checks must look at."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        row = {"id": f"c{i}", "prompt": f"where is order {i % 400}?", "response": f"it ships on day {i % 400}"}
        kind = rng.randrange(30)
        if kind == 0:
            row["id"] = f"dup{i % 5}"  # repeated ids, across blocks too
        elif kind == 1:
            row["id"] = ""  # a derived id from the record's cells
        elif kind == 2:
            row["system"], row["label"], row["split"] = "be brief", "billing", "train"
        elif kind == 3:
            row["response"] = "line one\nline two, with \"quotes\"\r\nand a CRLF"
        elif kind == 4:
            row["response"] = "  \t "  # no visible text: an error
        elif kind == 5:
            row["split"] = "dev"
        elif kind == 6:
            row["messages"] = json.dumps([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
        elif kind == 7:
            row["meta"] = '{"source": "crm", "n": 1}'
        elif kind == 8:
            row["meta"] = "not json"
        elif kind == 9:
            row["prompt"] = "caf\u00e9 \U0001f600, \u201cquoted\u201d"
        elif kind == 10:
            row["prompt"] = ""  # no user turn
        elif kind == 12:
            row["response"] = " \u3000 "  # no visible text either
        if i % 1000 == 500:
            row["response"] = "has a NUL \x00 byte"  # control bytes: that block is read by the csv module
        rows.append([row.get(c, "") for c in HEADER])
    return rows


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER, line_end: str = "\r\n", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def fast_rows(path, batch_lines: int) -> int:
    """Rows that took the fast path."""
    return sum(b.fast.frame.height for b in TableStream(path, batch_lines=batch_lines)._batches() if b.fast is not None)


def test_csv_fast_path_equals_the_csv_module_and_per_row_checks(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_bytes(regular_rows(3000)))
    same_load(path, batch_lines=16)  # blocks of about 8 KB: many blocks, quoted line breaks across reads
    assert fast_rows(path, 16) > 1800
    result = load_table(path)
    assert 2000 < result.table.height < 3000 and result.rows_read == 3000
    assert [p.code for p in result.problems if p.line == 1][0] == "bom_removed"
    assert {q.codes for q in result.quarantined} == {"empty_content", "invalid_field", "duplicate_id", "control_bytes"}


def test_irregular_records_hand_the_rest_of_the_file_to_the_csv_module(tmp_path):
    records = [csv_bytes([row], line_end="\n").split(b"\n", 1)[1] for row in regular_rows(1500, seed=1)]
    records[699] = b'c700,,a "stray" quote,answer,,,,\n'  # a quote inside an unquoted field
    records[899] = b"c900,,too,few\n"
    records[999] = b"\n"  # a blank line
    records[1099] = b"c1100,,caf\xe9 latin-1,answer,,,,\n"
    path = tmp_path / "irregular.csv"
    path.write_bytes((",".join(HEADER) + "\n").encode() + b"".join(records).rstrip(b"\n"))  # no line feed at the end
    same_load(path, batch_lines=10)
    assert 400 < fast_rows(path, 10) < 699
    result = load_table(path)
    by_line = {q.line: q.codes for q in result.quarantined}
    assert by_line[900] == "invalid_csv" and by_line[1000] == "invalid_csv" and by_line[1100] == "invalid_utf8"
    assert result.table.filter(result.table["id"] == "c700")["messages"][0][0]["content"] == 'a "stray" quote'
    assert result.rows_read == 1500


def test_header_with_other_columns_or_a_tab_separator(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_bytes(csv_bytes([[f"q{i}", f"a {i}\twith a tab", "billing"] for i in range(400)],
                              header=["question", "answer", "intent"], delimiter="\t"))
    same_load(tsv, batch_lines=40)
    assert fast_rows(tsv, 40) == 400
    extra = tmp_path / "extra.csv"
    extra.write_bytes(csv_bytes([[f"q{i}", "a", "blue"] for i in range(300)], header=["prompt", "response", "colour"]))
    same_load(extra, batch_lines=40)  # an unknown column: a warning on every row, so every row takes the per-row checks
    assert fast_rows(extra, 40) == 0


@pytest.mark.parametrize("data, regular", [
    (b'a,"b ""x"", c"\n', True),
    (b'a,"multi\nline"\r\n', True),
    (b'a,b"c\n', False),
    (b'a,"b"c\n', False),
    (b'a,b\rc\n', False),
    (b'a,b\n\n', False),
    (b'a,b,c\n', False),
    (b'"",""\n', True),
])
def test_scan_says_when_both_parsers_split_alike(data, regular):
    used, records, ok = fastcsv.scan(data, ord(","), 2, at_eof=True)
    assert ok is regular  # an odd number of quotes: no whole record at all (used 0)
    if regular:
        assert used == len(data) and records == len(list(csv.reader(io.StringIO(data.decode(), newline=""))))


def test_the_load_benchmarks_csv_corpus_takes_the_fast_path(tmp_path):
    from workbench.bench.load import write_corpus

    path = tmp_path / "support.csv"
    write_corpus(path, 4000, seed=0)
    same_load(path, batch_lines=100)
    result = load_table(path)
    assert (result.rows_valid, result.rows_quarantined) == (3996, 4)
    assert {q.codes for q in result.quarantined} == {"control_bytes", "empty_content"}
    assert fast_rows(path, 100) == 3996
