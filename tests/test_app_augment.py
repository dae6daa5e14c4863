"""AppTest of the Augment and scenarios page: generate, review, accept all, save curated."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from workbench.ui_support import data, keys
from workbench.ui_support.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_generate_review_and_save(tmp_path, sample_dir):
    runs = tmp_path / "runs"
    opened = data.open_file(sample_dir / "support.jsonl", runs)
    at = AppTest.from_file(str(ROOT / "pages" / "augment_scenarios.py"), default_timeout=180)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.session_state[keys.TABLE_PATH] = str(opened.table_path)
    at.session_state[keys.PIPELINE] = Pipeline(name="aug-test", steps=[
        {"kind": "load", "options": {"path": str(opened.source)}}])
    at.run()
    at.multiselect(key="augment_pick").set_value(["typos"]).run()
    at.number_input(key="aug_sample").set_value(5)
    at.button(key="aug_generate").click().run()
    assert not at.exception
    generated = at.session_state[keys.CANDIDATES]
    assert generated.height > 0
    at.button(key="aug_accept_all").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["accepted"] == str(generated.height) and metrics["pending"] == "0"
    first = generated["id"][0]
    at.checkbox(key=f"aug_keep_{first}").uncheck().run()
    assert {m.label: m.value for m in at.metric}["rejected"] == "1"
    at.button(key="aug_save").click().run()
    assert not at.exception and "Saved the curated dataset" in at.success[0].value
    load = at.session_state[keys.PIPELINE].steps[0]
    curated = pl.read_parquet(load["options"]["path"])
    assert first not in curated["id"].to_list() and curated.height == pl.read_parquet(opened.table_path).height + generated.height - 1
