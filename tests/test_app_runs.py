"""AppTest of the Runs page: history, steps, open a CLI run, compare two runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.ui_support import keys
from workbench.ui_support.pipeline import Pipeline, execute

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_history_open_and_compare(tmp_path, sample_dir):
    runs = tmp_path / "runs"
    load = {"kind": "load", "options": {"path": "support.jsonl"}}
    execute(Pipeline(name="plain", base_dir=sample_dir, steps=[load]), runs)
    execute(Pipeline(name="deduped", base_dir=sample_dir, steps=[load, {"kind": "clean", "component": "exact-dedup"}]), runs)
    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.run()
    assert not at.exception
    history = at.dataframe[0].value
    assert set(history["name"]) == {"plain", "deduped"}
    at.selectbox(key="runs_pick").set_value(str(runs / "deduped")).run()
    at.button(key="runs_open").click().run()
    assert not at.exception and "Opened deduped" in at.success[0].value
    assert at.session_state[keys.PIPELINE].steps[1]["component"] == "exact-dedup"
    assert at.session_state[keys.TABLE_PATH].endswith("02-clean-exact-dedup/output.parquet")
    at.selectbox(key="runs_a").set_value(str(runs / "plain"))
    at.selectbox(key="runs_b").set_value(str(runs / "deduped")).run()
    compared = at.dataframe[-1].value
    assert "rows_out_diff" in compared.columns
