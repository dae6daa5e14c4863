"""Every built-in format: detection, round trip, conversion, stable ids, late keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from workbench import schema
from workbench.errors import WorkbenchError
from workbench.io import load_table, write_table

DATA = Path(__file__).parent / "data" / "formats"
FIXTURES = {
    "chat.jsonl": "openai-chat",
    "prompt_completion.jsonl": "prompt-completion",
    "prompt_response.json": "prompt-response",
    "alpaca.json": "alpaca",
    "sharegpt.jsonl": "sharegpt",
    "mapped.csv": "csv",
}


@pytest.fixture(autouse=True)
def _formats_host(monkeypatch):
    """Only the plugins under test: other families' work in progress must not break these tests."""
    monkeypatch.setattr("workbench.runtime.discovery.DEFAULT_PLUGINS", ("workbench.plugins.formats", "workbench.plugins.steps"))


def _copy_without_suffix(name: str, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copy(DATA / name, target)
    return target


@pytest.mark.parametrize("name,fmt", FIXTURES.items())
def test_detects_format_by_content_and_extension(name, fmt):
    result = load_table(DATA / name)
    assert result.format == fmt
    assert result.table.height == result.rows_read > 0
    assert not result.quarantined


@pytest.mark.parametrize("name,fmt", [(n, f) for n, f in FIXTURES.items() if f != "csv"])
def test_detects_json_formats_without_extension(name, fmt, tmp_path):
    assert load_table(_copy_without_suffix(name, tmp_path)).format == fmt


@pytest.mark.parametrize("name,fmt", FIXTURES.items())
def test_round_trip_same_format_keeps_every_field(name, fmt, tmp_path):
    first = load_table(DATA / name)
    out = tmp_path / f"out{Path(name).suffix}"
    assert write_table(first.table, out, format=fmt) == fmt
    second = load_table(out, format=fmt)
    assert second.table.to_dicts() == first.table.to_dicts()


@pytest.mark.parametrize("fmt,suffix", [("parquet", ".parquet"), ("workbench-jsonl", ".jsonl")])
def test_lossless_formats_keep_extra_columns(fmt, suffix, tmp_path):
    table = load_table(DATA / "chat.jsonl").table.with_columns(pl.Series("quality", [0.5, None, 2.0]))
    write_table(table, tmp_path / f"t{suffix}", format=fmt)
    back = load_table(tmp_path / f"t{suffix}")
    assert back.format == fmt
    assert back.table.to_dicts() == table.to_dicts()


def test_chat_keeps_multi_turn_system_weights_and_unknown_keys():
    rows = {r["id"]: r for r in load_table(DATA / "chat.jsonl").table.to_dicts()}
    refund = rows["c2"]
    assert [m["role"] for m in refund["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert [m["weight"] for m in refund["messages"]] == [None, None, 0, None, 1]
    assert refund["split"] == "train" and json.loads(refund["meta"]) == {"channel": "email"}
    shipping = next(r for r in rows.values() if r["label"] == "shipping")
    assert json.loads(shipping["meta"]) == {"_extra": {"ticket": 1234, "tags": ["eu", "shipping"]}}


def test_unknown_keys_come_back_as_top_level_keys(tmp_path):
    write_table(load_table(DATA / "chat.jsonl").table, tmp_path / "out.jsonl")
    last = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[2])
    assert last["ticket"] == 1234 and last["tags"] == ["eu", "shipping"] and "meta" not in last


def test_alpaca_input_and_system_survive_a_round_trip(tmp_path):
    table = load_table(DATA / "alpaca.json").table
    assert table["messages"][0][0]["content"] == "Classify the intent of the message.\n\nMy parcel never arrived"
    assert [m["role"] for m in table["messages"][2]] == ["system", "user", "assistant"]
    write_table(table, tmp_path / "a.json", format="alpaca")
    items = json.loads((tmp_path / "a.json").read_text())
    assert items[0]["input"] == "My parcel never arrived" and items[1]["input"] == ""
    assert items[2]["source"] == "tickets" and items[2]["system"] == "Be terse."


def test_sharegpt_maps_speakers_and_top_level_system():
    table = load_table(DATA / "sharegpt.jsonl").table
    assert [m["role"] for m in table["messages"][1]] == ["system", "user", "assistant", "user", "assistant"]
    assert table["messages"][1][0]["content"] == "Be brief."


def test_csv_guessed_mapping_embedded_newlines_and_quotes():
    rows = load_table(DATA / "mapped.csv").table.to_dicts()
    assert rows[0]["messages"][2]["content"] == 'Go to Settings, then "Addresses".'
    assert rows[1]["messages"][0]["content"] == "Two lines:\r\nsecond line, with a comma"
    assert [m["role"] for m in rows[1]["messages"]] == ["user", "assistant"]
    assert [r["label"] for r in rows] == ["accounts", "billing"]


def test_csv_explicit_mapping_and_clear_error_for_unknown_columns(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("q,a\nhello,hi there\n")
    with pytest.raises(WorkbenchError, match="prompt and the response") as info:
        load_table(path)
    assert "--option prompt=COLUMN" in info.value.hint
    table = load_table(path, options={"prompt": "q", "response": "a"}).table
    assert table["messages"][0][1]["content"] == "hi there"
    with pytest.raises(WorkbenchError, match="no column 'nope'"):
        load_table(path, options={"prompt": "nope", "response": "a"})


def test_csv_writes_multi_turn_rows_as_messages_json(tmp_path):
    table = load_table(DATA / "chat.jsonl").table
    write_table(table, tmp_path / "t.csv")
    back = load_table(tmp_path / "t.csv").table
    assert back.drop("meta").to_dicts() == table.drop("meta").to_dicts()
    assert back["meta"][1] == table["meta"][1]
    assert json.loads(back["meta"][2])["_extra"]["ticket"] == "1234"  # CSV holds text only


@pytest.mark.parametrize("fmt", ["alpaca", "prompt-completion", "prompt-response"])
def test_pair_formats_refuse_multi_turn_rows_with_a_hint(fmt, tmp_path):
    table = load_table(DATA / "chat.jsonl").table
    with pytest.raises(WorkbenchError, match="'c2' cannot be written as") as info:
        write_table(table, tmp_path / "x.jsonl", format=fmt)
    assert "openai-chat" in info.value.hint
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize("target", ["sharegpt", "alpaca", "prompt-response", "csv", "parquet", "openai-chat"])
def test_conversion_keeps_the_conversation(target, tmp_path):
    source = load_table(DATA / "prompt_response.json").table
    write_table(source, tmp_path / "x.out", format=target)
    back = load_table(tmp_path / "x.out", format=target).table
    assert back["messages"].to_list() == source["messages"].to_list()
    assert back["id"].to_list() == source["id"].to_list()


def test_derived_ids_are_stable_and_unique(tmp_path):
    line = json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})
    path = tmp_path / "dup.jsonl"
    path.write_text("\n".join([line, line, line]) + "\n")
    first = load_table(path).table["id"].to_list()
    assert len(set(first)) == 3 and first[1] == f"{first[0]}-2"
    assert load_table(path).table["id"].to_list() == first
    assert load_table(DATA / "chat.jsonl").table["id"].to_list()[:2] == ["c1", "c2"]


def test_key_first_seen_after_row_150_is_kept(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
            for i in range(200)]
    rows[150]["label"] = "late"
    rows[160]["late_key"] = {"nested": True}
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    table = load_table(path).table
    assert table["label"][150] == "late"
    assert json.loads(table["meta"][160]) == {"_extra": {"late_key": {"nested": True}}}
    write_table(table, tmp_path / "back.jsonl")
    assert json.loads((tmp_path / "back.jsonl").read_text().splitlines()[160])["late_key"] == {"nested": True}


def test_output_format_from_extension_and_clear_error_when_ambiguous(tmp_path):
    table = load_table(DATA / "chat.jsonl").table
    assert write_table(table, tmp_path / "a.parquet") == "parquet"
    assert write_table(table, tmp_path / "a.jsonl") == "openai-chat"
    with pytest.raises(WorkbenchError, match="no writer claims '.txt'"):
        write_table(table, tmp_path / "a.txt")
    with pytest.raises(WorkbenchError, match="unknown writer format 'yaml'"):
        write_table(table, tmp_path / "a.jsonl", format="yaml")


def test_undetectable_file_names_the_formats_tried(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some prose\n")
    with pytest.raises(WorkbenchError, match=r"tried: alpaca, csv, .*workbench-jsonl") as info:
        load_table(path)
    assert "--format" in info.value.hint


def test_empty_table_writes_and_conforms(tmp_path):
    write_table(schema.empty_table(), tmp_path / "e.parquet")
    assert load_table(tmp_path / "e.parquet").rows_read == 0


THIRD_PARTY_FORMAT = '''
from workbench.components import Reader
from workbench.hookspecs import hookimpl
from workbench.io.records import Record


class QaLines(Reader):
    name = "qa-lines"
    description = "Q: question || A: answer, one per line"
    extensions = (".qa",)

    def detect(self, sample):
        return 1.0 if sample.head.startswith(b"Q: ") else 0.0

    def read(self, path, **kwargs):
        for number, line in enumerate(open(path, encoding="utf-8"), start=1):
            q, _, a = line.strip().partition(" || A: ")
            yield Record(number, line, {"messages": [{"role": "user", "content": q[3:]},
                                                     {"role": "assistant", "content": a}]})


@hookimpl
def register_readers(register):
    register(QaLines)
'''


def test_a_third_party_reader_is_detected_and_validated(tmp_path):
    from workbench.runtime.discovery import get_host

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "qa_format.py").write_text(THIRD_PARTY_FORMAT)
    get_host(tmp_path / "plugins")
    path = tmp_path / "data.txt"
    path.write_text("Q: hi || A: hello\nQ: empty || A: \n")
    result = load_table(path)
    assert result.format == "qa-lines" and result.table.height == 1
    assert [(q.line, q.codes) for q in result.quarantined] == [(2, "empty_content")]
