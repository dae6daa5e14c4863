"""AppTest of the Augment and scenarios page: generate, review, accept all, save curated."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl
import pytest
from test_app_common import click_and_settle, open_page

from workbench.ui_support import keys, review, tasks

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def _generate(at) -> None:
    """Click Generate and wait for the background task, as the page's progress panel does."""
    at.button(key="aug_generate").click().run()
    task = tasks.get(at.session_state["aug_task"])
    deadline = time.monotonic() + 120
    while task.running:
        assert time.monotonic() < deadline, "generation did not finish"
        time.sleep(0.1)
    at.run()


def test_generate_review_and_save(tmp_path, sample_dir):
    at, opened = open_page("augment_scenarios", tmp_path, sample_dir, "aug-test")
    at.run()
    at.multiselect(key="augment_pick").set_value(["typos"]).run()
    at.number_input(key="aug_sample").set_value(5)
    _generate(at)
    assert not at.exception
    generated = at.session_state[keys.CANDIDATES]
    assert generated.height > 0
    assert {m.label: m.value for m in at.metric}["pending"] == str(generated.height)
    at.button(key="aug_accept_all").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["accepted"] == str(generated.height) and metrics["pending"] == "0"
    first, second = generated["id"][0], generated["id"][1]
    at.radio(key=f"aug_decision_{first}").set_value("reject").run()
    at.text_area(key=f"aug_reference_{second}").set_value("An edited answer.").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["rejected"] == "1" and metrics["edited"] == "1"
    rates = at.dataframe[0].value  # the acceptance table per generator
    assert rates["generated"].sum() == generated.height and rates["rejected"].sum() == 1
    click_and_settle(at, "aug_save")
    assert not at.exception and "Saved the curated dataset" in at.success[0].value
    load = at.session_state[keys.PIPELINE].steps[0]
    curated = pl.read_parquet(load["options"]["path"])
    assert first not in curated["id"].to_list() and curated.height == pl.read_parquet(opened.table_path).height + generated.height - 1
    edited = curated.filter(pl.col("id") == second).to_dicts()[0]
    assert edited["messages"][-1]["content"] == "An edited answer." and json.loads(edited["meta"])["edited"]
    ledger = pl.read_parquet(review.review_ledger_path(Path(load["options"]["path"])))
    assert ledger.filter(pl.col("action") == "rejected")["row_id"].to_list() == [first]
    assert "edited in review" in ledger.filter(pl.col("row_id") == second)["reason"].to_list()


def test_scenarios_reviewed_through_the_scenario_review_api(tmp_path, sample_dir):
    at, opened = open_page("augment_scenarios", tmp_path, sample_dir, "scen-test")
    at.run()
    at.multiselect(key="scenarios_pick").set_value(["scenario-templates"]).run()
    at.number_input(key="aug_sample").set_value(40)
    _generate(at)
    assert not at.exception
    generated = at.session_state[keys.CANDIDATES]
    assert generated.height > 0 and generated["scenario"].is_not_null().all()
    at.button(key="aug_reject_all").click().run()
    assert {m.label: m.value for m in at.metric}["acceptance"] == "0%"
    at.radio(key=f"aug_decision_{generated['id'][0]}").set_value("accept").run()
    click_and_settle(at, "aug_save")
    assert not at.exception and "1 reviewed rows kept" in at.success[0].value
