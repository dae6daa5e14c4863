"""AppTest of the Clean page: pick a cleaner, preview diffs, apply, ledger, restore."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.ui_support import data, keys
from workbench.ui_support.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_preview_apply_and_restore(tmp_path, sample_dir):
    runs = tmp_path / "runs"
    opened = data.open_file(sample_dir / "support.jsonl", runs)
    at = AppTest.from_file(str(ROOT / "pages" / "clean.py"), default_timeout=180)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.session_state[keys.TABLE_PATH] = str(opened.table_path)
    at.session_state[keys.PIPELINE] = Pipeline(name="clean-test", steps=[
        {"kind": "load", "options": {"path": str(opened.source)}}])
    at.run()
    at.multiselect(key="clean_pick").set_value(["whitespace", "exact-dedup"]).run()
    at.number_input(key="clean_sample").set_value(400)
    at.button(key="clean_preview").click().run()
    assert not at.exception
    assert [h.value.split(":")[0] for h in at.subheader][:2] == ["whitespace", "exact-dedup"]
    at.button(key="clean_apply").click().run()
    assert not at.exception and "Cleaned" in at.success[0].value
    pipeline = at.session_state[keys.PIPELINE]
    assert [s.get("component") for s in pipeline.steps] == [None, "whitespace", "exact-dedup"]
    dropped = at.multiselect(key="clean_restore_ids").options
    assert dropped, "exact-dedup drops the planted duplicates"
    at.multiselect(key="clean_restore_ids").set_value(dropped[:1]).run()
    at.button(key="clean_restore").click().run()
    assert not at.exception and "Restored 1 rows" in at.success[-1].value
    assert at.session_state[keys.PIPELINE].steps[-1]["label"] == "restore"
