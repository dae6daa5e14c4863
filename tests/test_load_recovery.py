"""Recovering what can be recovered: a hostile corpus of 1,200 lines, each bad line named, every good one kept."""

from __future__ import annotations

import json

import pytest

from workbench.errors import WorkbenchError
from workbench.io import load_table

BOM = b"\xef\xbb\xbf"


@pytest.fixture(autouse=True)
def _formats_host(monkeypatch):
    """Only the plugins under test: other families' work in progress must not break these tests."""
    monkeypatch.setattr("workbench.runtime.discovery.DEFAULT_PLUGINS", ("workbench.plugins.formats", "workbench.plugins.steps"))


def chat(i: int, **extra) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i}: where is my order?"},
                         {"role": "assistant", "content": f"answer {i}: it ships tomorrow."}], **extra}


def line_of(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def hostile_corpus(n: int = 1200) -> tuple[bytes, dict[int, str], set[int], set[int]]:
    """(file bytes, bad line -> expected code, lines that must be recovered with a warning, all good lines)."""
    bad: dict[int, str] = {}
    bom_lines: set[int] = set()
    good: set[int] = set()
    lines = []
    for number in range(1, n + 1):
        kind = number % 12
        obj = chat(number, id=f"r{number}")
        if kind == 1:  # truncated JSON: an export cut mid-record
            data, bad[number] = line_of(obj)[:-9], "invalid_json"
        elif kind == 2:  # a byte-order mark where two exports were concatenated
            data = BOM + line_of(obj)
            bom_lines.add(number)
        elif kind == 3:  # a NUL byte inside the text
            data, bad[number] = line_of(obj).replace(b"question", b"ques\x00tion"), "control_bytes"
        elif kind == 4:  # other control bytes (escape, form feed)
            data, bad[number] = line_of(obj).replace(b"answer", b"ans\x1b[0mwer\x0c"), "control_bytes"
        elif kind == 5:  # Latin-1 bytes in a UTF-8 file
            data, bad[number] = line_of(obj).replace(b"order", b"ordre caf\xe9"), "invalid_utf8"
        elif kind == 6:  # deep nesting
            data, bad[number] = b'{"messages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "invalid_json"
        elif kind == 7:  # an empty object
            data, bad[number] = b"{}", "missing_messages"
        elif kind == 8:  # Windows line ends
            data = line_of(obj) + b"\r"
        elif kind == 9:  # emoji and other scripts
            obj["messages"][0]["content"] += " \U0001F4E6 \u00e7a marche? \u8ba2\u5355"
            data = line_of(obj)
        else:
            data = line_of(obj)
        if number not in bad:
            good.add(number)
        lines.append(data)
    big = chat(0, id="big")
    big["messages"][1]["content"] = "tracking details. " * (3 * 1024 * 1024 // 18)  # a 3 MB line: long, but valid
    lines[99] = line_of(big)
    late = chat(n, id="late", colour="blue")  # a key that appears only near the end
    lines[n - 2] = line_of(late)
    for number in (100, n - 1):
        bad.pop(number, None)
        bom_lines.discard(number)
        good.add(number)
    return b"\n".join(lines) + b"\n", bad, bom_lines, good


def test_hostile_corpus_every_bad_line_named_every_good_line_kept(tmp_path):
    data, bad, bom_lines, good = hostile_corpus()
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(data)
    result = load_table(path, format="openai-chat", quarantine_path=tmp_path / "q.jsonl")

    assert result.rows_read == 1200 == result.table.height + len(result.quarantined)
    assert {q.line: q.codes for q in result.quarantined} == bad
    assert result.table.height == len(good)
    kept = set(result.table["id"].to_list())
    assert kept == {f"r{n}" for n in good if n not in (100, 1199)} | {"big", "late"}
    assert result.table.filter(result.table["id"] == "big")["messages"][0][1]["content"].startswith("tracking")
    # every recovered line is said: a bom_removed warning at its own line, and in the list the ledger is fed from
    warned = {p.line for p in result.problems if p.code == "bom_removed"}
    assert warned == bom_lines
    assert {line for _, line, codes in result.recovered if codes == "bom_removed"} == bom_lines
    quarantine = [json.loads(x) for x in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert sorted(q["line"] for q in quarantine) == sorted(bad)
    late = result.table.filter(result.table["id"] == "late")
    assert json.loads(late["meta"][0]) == {"_extra": {"colour": "blue"}}
    emoji = result.table.filter(result.table["id"] == "r9")["messages"][0][0]["content"]
    assert "\U0001F4E6" in emoji and "\u8ba2\u5355" in emoji


def test_a_file_with_some_nul_lines_loads_the_rest(tmp_path):
    """The case of issue 18: 60 of 1,000 lines carry a NUL; the other 940 load."""
    lines = [line_of(chat(i)).replace(b"order", b"or\x00der") if i % 50 < 3 else line_of(chat(i))
             for i in range(1000)]
    path = tmp_path / "nul.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = load_table(path)
    assert result.format == "openai-chat"
    assert (result.table.height, len(result.quarantined)) == (940, 60)
    assert {q.codes for q in result.quarantined} == {"control_bytes"}
    assert [q.line for q in result.quarantined][:4] == [1, 2, 3, 51]


def test_mostly_binary_is_still_refused_with_the_share_said(tmp_path):
    path = tmp_path / "blob.jsonl"
    path.write_bytes(b'{"messages": []}\n' + bytes(range(256)) * 40)
    with pytest.raises(WorkbenchError, match=r"binary file.*% of its first"):
        load_table(path, format="openai-chat")


def test_csv_record_with_control_bytes_is_quarantined_alone(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"prompt,response\nhello,hi\nbad\x00one,x\nfine,ok\n")
    result = load_table(path)
    assert result.table["messages"].list.len().to_list() == [2, 2]
    assert [(q.line, q.codes) for q in result.quarantined] == [(2, "control_bytes")]


def test_load_step_ledger_records_recoveries_and_quarantine(tmp_path):
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import load_runfile

    (tmp_path / "data.jsonl").write_bytes(b"\n".join([
        line_of(chat(1, id="a")), BOM + line_of(chat(2, id="b")), line_of(chat(3, id="c")).replace(b"3", b"\x00"),
    ]) + b"\n")
    (tmp_path / "run.toml").write_text('[run]\nname = "recovery"\n\n[[steps]]\nkind = "load"\n'
                                       'options = { path = "data.jsonl" }\n')
    outcome = execute(load_runfile(tmp_path / "run.toml"), runs_dir=tmp_path / "runs")
    step = outcome.steps[0]
    import polars as pl

    ledger = pl.read_parquet(step.folder / "ledger.parquet")
    changed = ledger.filter(pl.col("action") == "changed")
    assert changed.select("row_id", "reason").rows() == [("b", "recovered: bom_removed")]
    assert json.loads(changed["detail"][0]) == {"line": 2}
    dropped = ledger.filter(pl.col("action") == "dropped")
    assert dropped["reason"].to_list() == ["invalid: control_bytes"]
    assert outcome.table["id"].to_list() == ["a", "b"]
