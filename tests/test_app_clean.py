"""AppTest of the Clean page: pick a cleaner, preview diffs, apply, ledger, restore."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from test_app_common import click_and_settle, open_page

from workbench.ui_support import keys, review

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_preview_apply_and_restore(tmp_path, sample_dir):
    at, opened = open_page("clean", tmp_path, sample_dir, "clean-test")
    at.run()
    at.multiselect(key="clean_pick").set_value(["whitespace", "exact-dedup"]).run()
    at.number_input(key="clean_sample").set_value(400)
    click_and_settle(at, "clean_preview")
    assert not at.exception
    assert [h.value.split(":")[0] for h in at.subheader][:2] == ["whitespace", "exact-dedup"]
    click_and_settle(at, "clean_apply")
    assert not at.exception and "Cleaned" in at.success[0].value
    pipeline = at.session_state[keys.PIPELINE]
    assert [s.get("component") for s in pipeline.steps] == [None, "whitespace", "exact-dedup"]
    dropped = at.multiselect(key="clean_restore_ids").options
    assert dropped, "exact-dedup drops the planted duplicates"
    at.multiselect(key="clean_restore_ids").set_value(dropped[:1]).run()
    click_and_settle(at, "clean_restore")
    assert not at.exception and "Restored 1 rows" in at.success[-1].value
    assert at.session_state[keys.PIPELINE].steps[-1]["label"] == "restore"


def test_heavy_drop_asks_first_and_dedup_shows_the_kept_row(tmp_path, sample_dir):
    at, _ = open_page("clean", tmp_path, sample_dir, "clean-heavy")
    at.run()
    at.multiselect(key="clean_pick").set_value(["near-dedup"]).run()
    at.selectbox(key="clean_near-dedup_on").set_value("conversation").run()  # the shared system prompt dominates
    at.number_input(key="clean_sample").set_value(100)
    click_and_settle(at, "clean_preview")
    assert not at.exception and "drops" in at.warning[0].value
    assert any(m.value.startswith("**kept** `") for m in at.markdown), "a dropped duplicate shows the row it kept"
    click_and_settle(at, "clean_apply")
    assert not at.exception
    assert "Not applied yet: near-dedup dropped" in at.warning[-1].value
    assert not at.session_state[keys.PIPELINE].stage("clean"), "nothing applied before the confirmation"
    at.button(key="clean_cancel").click().run()
    assert not at.session_state[keys.PIPELINE].stage("clean") and keys.CLEAN_PENDING not in at.session_state
    assert not any(w.value.startswith("Not applied yet") for w in at.warning)
    click_and_settle(at, "clean_apply")
    click_and_settle(at, "clean_confirm")
    assert not at.exception
    before, after = (int(n.replace(",", "")) for n in at.success[0].value.split(": ")[1].split(" rows")[0].split(" -> "))
    assert before == 368 and after < 0.8 * before
    assert at.session_state[keys.PIPELINE].stage("clean")[0]["options"] == {"on": "conversation"}
    ledger = next(d.value for d in at.dataframe if "kept row" in d.value.columns)
    dropped = ledger[ledger["action"] == "dropped"]
    assert len(dropped) == before - after and dropped["kept row"].notna().all()


def test_default_near_dedup_applies_without_a_question_and_choice_survives_other_pages(tmp_path, sample_dir):
    at, _ = open_page("clean", tmp_path, sample_dir, "clean-default")
    at.run()
    at.multiselect(key="clean_pick").set_value(["whitespace", "near-dedup"]).run()
    click_and_settle(at, "clean_apply")
    assert not at.exception and not at.warning
    assert at.success[0].value.startswith("Cleaned: 368 -> ")
    state = {k: at.session_state[k] for k in (keys.RUNS_DIR, keys.TABLE_PATH, keys.PIPELINE, keys.CLEAN_CHOICE)}
    state[keys.PIPELINE].set_stage("clean", [])  # as if the user had not applied; the choice alone must survive
    augmented = review.try_component("augmenter", "typos", {}, pl.read_parquet(state[keys.TABLE_PATH]), 5)
    again = open_page("clean", tmp_path, sample_dir, "clean-default")[0]  # a page run without the widgets' state
    for k, v in state.items():
        again.session_state[k] = v
    again.session_state[keys.PREVIEW] = [augmented]  # the Augment page's preview
    again.run()
    assert again.multiselect(key="clean_pick").value == ["whitespace", "near-dedup"]
    assert not again.subheader or all("typos" not in h.value for h in again.subheader)


def test_a_cleaner_that_fails_is_named_and_nothing_is_applied(tmp_path, sample_dir):
    at, _ = open_page("clean", tmp_path, sample_dir, "clean-failing")
    at.run()
    at.multiselect(key="clean_pick").set_value(["exact-dedup"]).run()
    at.selectbox(key="clean_exact-dedup_on").set_value("column").run()
    at.text_input(key="clean_exact-dedup_column").input("no_such_column").run()
    click_and_settle(at, "clean_apply")
    assert not at.exception and not at.success
    assert "cleaner exact-dedup failed" in at.error[0].value and "no_such_column" in at.error[0].value
    assert not at.session_state[keys.PIPELINE].stage("clean")
