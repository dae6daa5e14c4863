"""Known-answer tests: each validation code at its exact line and field; quarantine and token limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.io import load_table, source
from workbench.io.problems import CODES


@pytest.fixture(autouse=True)
def _formats_host(monkeypatch):
    """Only the plugins under test: other families' work in progress must not break these tests."""
    monkeypatch.setattr("workbench.runtime.discovery.DEFAULT_PLUGINS", ("workbench.plugins.formats", "workbench.plugins.steps"))


def turns(*pairs, **extra):
    return {"messages": [{"role": r, "content": c} for r, c in pairs], **extra}


QA = (("user", "q"), ("assistant", "a"))
# line -> (source line, expected problems as (field, code))
CASES: list[tuple[bytes, set[tuple[str | None, str]]]] = [
    (b"\xef\xbb\xbf" + json.dumps(turns(*QA, id="ok1")).encode(), {(None, "bom_removed")}),
    (b"   ", {(None, "blank_line")}),
    (b'{"id": "x"', {(None, "invalid_json")}),
    (b"[1, 2]", {(None, "not_object")}),
    (b'{"id": "m1"}', {("messages", "missing_messages")}),
    (json.dumps({"messages": ["hi", {"role": "assistant", "content": "a"}]}).encode(),
     {("messages[0]", "message_not_object")}),
    (json.dumps({"messages": [{"content": "q"}, {"role": "assistant", "content": "a"}]}).encode(),
     {("messages[0].role", "missing_role")}),
    (json.dumps({"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}).encode(),
     {("messages[0].content", "missing_content")}),
    (json.dumps({"messages": [{"role": "user", "content": "q", "name": "bob"}, {"role": "assistant", "content": "a"}]}).encode(),
     {("messages[0].name", "unrecognized_message_key")}),
    (json.dumps(turns(("user", "q"), ("assistant", "a"), ("tool", "x"))).encode(), {("messages[2].role", "unknown_role")}),
    (json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": 5}]}).encode(),
     {("messages[1].content", "content_not_string")}),
    (json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 2}]}).encode(),
     {("messages[1].weight", "invalid_weight")}),
    (json.dumps({"messages": [{"role": "user", "content": "q", "weight": 1}, {"role": "assistant", "content": "a"}]}).encode(),
     {("messages[0].weight", "weight_not_assistant")}),
    (json.dumps(turns(("system", "s"), ("user", "q"))).encode(), {("messages", "no_assistant_message")}),
    (json.dumps(turns(("user", "q"), ("assistant", "  "))).encode(), {("messages[1].content", "empty_content")}),
    (json.dumps(turns(*QA, id="ok1")).encode(), {("id", "duplicate_id")}),
    (json.dumps(turns(("user", "q"), ("user", "q2"), ("assistant", "a"))).encode(),
     {("messages[1].role", "consecutive_same_role")}),
    (json.dumps(turns(("user", "q"), ("assistant", "a"), ("system", "s"), ("user", "q"), ("assistant", "a"))).encode(),
     {("messages[2].role", "system_not_first")}),
    (json.dumps(turns(*QA, colour="blue")).encode(), {("colour", "unrecognized_key")}),
    (json.dumps(turns(*QA, label=7)).encode(), {("label", "coerced_to_string")}),
    (json.dumps(turns(*QA, meta=5)).encode(), {("meta", "invalid_field")}),
    (json.dumps(turns(*QA, split="dev")).encode(), {("split", "invalid_field")}),
    (b'{"messages": [{"role": "user", "content": "caf\xe9"}]}', {(None, "invalid_utf8")}),
    (b'{"messages": [{"role": "user", "content": "a\x00b"}]}', {(None, "control_bytes")}),
    (json.dumps(turns(("user", "word " * 100), ("assistant", "a"))).encode(), set()),
]
LONG_LINE = len(CASES)
KEPT_LINES = {1, 17, 18, 19, 20, LONG_LINE}


@pytest.fixture
def problems_file(tmp_path) -> Path:
    path = tmp_path / "problems.jsonl"
    path.write_bytes(b"\n".join(line for line, _ in CASES) + b"\n")
    return path


def test_every_code_at_its_exact_line_and_field(problems_file, tmp_path):
    result = load_table(problems_file, quarantine_path=tmp_path / "q.jsonl")
    expected = {(i, field, code) for i, (_, probs) in enumerate(CASES, start=1) for field, code in probs}
    assert {(p.line, p.field, p.code) for p in result.problems} == expected
    assert result.rows_read == len(CASES) - 1  # the blank line is not a record
    assert result.rows_read == result.table.height + len(result.quarantined)
    assert result.table.height == len(KEPT_LINES)
    assert {q.line for q in result.quarantined} == set(range(1, len(CASES) + 1)) - KEPT_LINES - {2}
    for p in result.problems:
        assert p.message and p.hint == CODES[p.code][1] and p.severity == CODES[p.code][0]


def test_codes_catalogue_is_covered_by_the_known_answer_file():
    covered = {code for _, probs in CASES for _, code in probs}
    assert set(CODES) - covered == {"invalid_csv", "line_too_long", "too_long"}  # tested below


def test_quarantine_file_holds_raw_record_and_reasons(problems_file, tmp_path):
    result = load_table(problems_file, quarantine_path=tmp_path / "q.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert len(lines) == len(result.quarantined)
    dup = next(q for q in lines if q["line"] == 16)
    assert dup["codes"] == "duplicate_id" and dup["row_id"] == "ok1~line16"
    assert json.loads(dup["raw"])["id"] == "ok1"
    bad_json = next(q for q in lines if q["line"] == 3)
    assert bad_json["raw"] == '{"id": "x"' and bad_json["problems"][0]["code"] == "invalid_json"


def test_too_long_with_the_labelled_approximation(problems_file):
    result = load_table(problems_file, max_tokens=50)
    too_long = [p for p in result.problems if p.code == "too_long"]
    assert [(p.line, p.field) for p in too_long] == [(LONG_LINE, "messages")]
    assert "approximation" in too_long[0].message and result.token_label.startswith("approximation")
    assert LONG_LINE in {q.line for q in result.quarantined}


def test_too_long_with_a_local_tokenizer(problems_file):
    from workbench.lm.embedded import minilm_dir

    result = load_table(problems_file, max_tokens=60, tokenizer=str(minilm_dir()))
    too_long = [p for p in result.problems if p.code == "too_long"]
    assert [p.line for p in too_long] == [LONG_LINE]
    assert too_long[0].message.startswith("101 tokens > limit 60 (tokenizer ")  # 100 x "word" + "q"... + "a"


def test_smollm2_tokenizer_name_maps_to_the_embedded_model(problems_file):
    from workbench.lm.embedded import smollm2_dir

    smollm2_dir()  # converted once per machine (about 40 s); most sessions' tiny model has done it already
    result = load_table(problems_file, max_tokens=60, tokenizer="smollm2")
    assert result.token_label == "tokenizer smollm2"
    assert [p.line for p in result.problems if p.code == "too_long"] == [LONG_LINE]


def test_missing_tokenizer_is_a_clear_error(problems_file):
    from workbench.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="tokenizer 'nowhere' not found"):
        load_table(problems_file, max_tokens=10, tokenizer="nowhere")


def test_line_too_long_is_quarantined_and_reading_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "MAX_RECORD_BYTES", 100)
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(turns(("user", "x" * 500), ("assistant", "a"))) + "\n" + json.dumps(turns(*QA)) + "\n")
    result = load_table(path, format="openai-chat")
    assert [(p.line, p.code) for p in result.problems] == [(1, "line_too_long")]
    assert result.table.height == 1 and result.quarantined[0].line == 1


def test_csv_record_numbers_and_invalid_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('prompt,response\nhello,hi\n"multi\nline",ok\nthree,fields,here\n,empty prompt\n')
    result = load_table(path)
    assert {(p.line, p.field, p.code) for p in result.problems} == {
        (3, None, "invalid_csv"), (4, "prompt", "empty_content")}
    assert result.rows_read == 4 and result.table.height == 2


def test_alpaca_field_paths_name_the_source_keys(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"instruction": "do", "input": 3, "output": "x"}, {"instruction": "do", "output": ""}]))
    result = load_table(path)
    assert {(p.line, p.field, p.code) for p in result.problems} == {
        (1, "input", "content_not_string"), (1, "output", "empty_content")}


def test_sharegpt_field_paths_use_from_and_value(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"conversations": [{"from": "human", "value": "q"}, {"from": "tool", "value": "x"}]}))
    result = load_table(path)
    assert {(p.line, p.field, p.code) for p in result.problems} == {
        (1, "conversations[1].from", "unknown_role"), (1, "messages", "no_assistant_message")}
