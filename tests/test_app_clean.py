"""AppTest of the Clean page: pick a cleaner, preview diffs, apply, ledger, restore."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_app_common import open_page

from workbench.ui_support import keys

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_preview_apply_and_restore(tmp_path, sample_dir):
    at, opened = open_page("clean", tmp_path, sample_dir, "clean-test")
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
