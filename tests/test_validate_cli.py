"""The validate and convert commands, and the load step inside a real run."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from workbench.cli import main

DATA = Path(__file__).parent / "data" / "formats"
QA = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]


@pytest.fixture(autouse=True)
def _formats_host(monkeypatch):
    """Only the plugins under test: other families' work in progress must not break these tests."""
    monkeypatch.setattr("workbench.runtime.discovery.DEFAULT_PLUGINS", ("workbench.plugins.formats", "workbench.plugins.steps"))


@pytest.fixture
def dirty(tmp_path) -> Path:
    path = tmp_path / "dirty.jsonl"
    path.write_text("\n".join([json.dumps({"id": "a", "messages": QA}), "not json",
                               json.dumps({"id": "b", "messages": QA[:1]}),
                               json.dumps({"id": "c", "messages": QA, "note": "x"})]) + "\n")
    return path


def test_validate_json_reports_counts_and_problems(dirty, capsys):
    assert main(["validate", str(dirty), "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert {"rows_read", "rows_valid", "rows_invalid", "problems", "errors", "warnings", "format"} <= set(rep)
    assert (rep["rows_read"], rep["rows_valid"], rep["rows_invalid"]) == (4, 2, 2)
    assert [(p["line"], p["field"], p["code"]) for p in rep["problems"]] == [
        (2, None, "invalid_json"), (3, "messages", "no_assistant_message"), (4, "note", "unrecognized_key")]
    assert all({"line", "field", "code", "message", "hint", "severity"} <= set(p) for p in rep["problems"])


def test_validate_exit_codes_clean_warnings_unreadable(tmp_path, capsys):
    assert main(["validate", str(DATA / "sharegpt.jsonl"), "--json"]) == 0
    assert main(["validate", str(DATA / "chat.jsonl")]) == 0  # warnings only
    assert "unrecognized_key" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "nope.jsonl"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"].endswith("no such file")
    assert main(["validate", str(tmp_path / "nope.jsonl")]) == 1
    assert "hint:" in capsys.readouterr().err


def test_validate_text_lists_line_field_and_hint(dirty, capsys):
    main(["validate", str(dirty), "--max-tokens", "1"])
    out = capsys.readouterr().out
    assert "line 3 messages: error no_assistant_message" in out and "hint: add the assistant's answer" in out
    assert "line 1 messages: error too_long" in out and "approximation" in out


def test_validate_csv_with_column_options(tmp_path, capsys):
    path = tmp_path / "q.csv"
    path.write_text("q,a\nhello,hi\n")
    assert main(["validate", str(path), "--json", "-o", "prompt=q", "-o", "response=a"]) == 0
    assert json.loads(capsys.readouterr().out)["rows_valid"] == 1


def test_convert_writes_output_and_quarantine(dirty, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    assert main(["convert", str(dirty), str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["from"], summary["to"], summary["rows_written"], summary["rows_quarantined"]) == (
        "openai-chat", "parquet", 2, 2)
    assert pl.read_parquet(out)["id"].to_list() == ["a", "c"]
    assert len(Path(summary["quarantine"]).read_text().splitlines()) == 2


def test_convert_explicit_formats_and_clean_input_leaves_no_quarantine(tmp_path, capsys):
    out = tmp_path / "out.txt"
    assert main(["convert", str(DATA / "alpaca.json"), str(out), "--from", "alpaca", "--to", "sharegpt"]) == 0
    assert not (tmp_path / "out.txt.quarantine.jsonl").exists()
    assert len(out.read_text().splitlines()) == 3 and "conversations" in out.read_text()


def test_load_step_in_a_real_run_quarantines_with_reasons(dirty, tmp_path):
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import load_runfile

    (tmp_path / "run.toml").write_text(f"""
[run]
name = "load-test"

[[steps]]
kind = "load"
options = {{ path = "{dirty.name}", max_tokens = 100 }}

[[steps]]
kind = "load"
options = {{ path = "q.csv", append = true, split = "test", reader_options = {{ prompt = "q", response = "a" }} }}
""")
    (tmp_path / "q.csv").write_text("q,a\nhello,hi\n")
    outcome = execute(load_runfile(tmp_path / "run.toml"), runs_dir=tmp_path / "runs")
    first, second = (s.manifest for s in outcome.steps)
    assert (first["rows_out"], first["dropped"], first["stats"]["rows_quarantined"]) == (2, 2, 2)
    assert first["dropped_by_reason"] == {"invalid: invalid_json": 1, "invalid: no_assistant_message": 1}
    assert (outcome.steps[0].folder / "quarantine.jsonl").exists()
    assert second["rows_out"] == 3 and outcome.table["split"].to_list() == [None, None, "test"]
