"""Tests of the example plugin: each component run as a run would, with imports from `workbench` only."""

from __future__ import annotations

import json

import polars as pl
from workbench_example_plugin import (
    GreetingProbe,
    KeepLabels,
    MajorityLabel,
    PolitePrefix,
    RequiredPhrase,
    StripSignatures,
)

import workbench
from workbench.testing import chat_rows, run_component, scratch_context


def test_cleaner_records_each_change_with_the_row_before():
    rows = chat_rows(["Where is my order?\n\nSent from my iPhone", "Cancel it please"])
    result = run_component(StripSignatures, rows)
    assert result.table["messages"][0][0]["content"] == "Where is my order?"
    ledger = result.ledger
    assert ledger["row_id"].to_list() == ["r0"] and ledger["action"].to_list() == ["changed"]
    assert "Sent from my iPhone" in json.loads(ledger["row"][0])["messages"][0]["content"]


def test_augmenter_follows_the_lineage_rules_and_augments_unsplit_rows():
    rows = chat_rows(["Where is my order?", "Hello, cancel it"], split=[None, "test"])
    result = run_component(PolitePrefix, rows, variants=2, greetings=["Hi there,", "Hello,"])
    variants = result.table.filter(pl.col("origin") == "polite-prefix")
    assert variants["id"].to_list() == ["r0~polite-prefix1", "r0~polite-prefix2"]  # the test row is left alone
    assert set(variants["source_id"]) == {"r0"}
    meta = json.loads(variants["meta"][0])
    assert meta["augmenter"] == "polite-prefix" and meta["augmented_from"] == "r0" and meta["variant"] == 1
    assert variants["messages"][0][0]["content"] == "Hi there, where is my order?"
    assert result.counts()["added"] == 2


def test_augmenter_does_not_compound_on_variants():
    rows = chat_rows(["Where is my order?"])
    once = run_component(PolitePrefix, rows).table
    twice = run_component(PolitePrefix, once).table
    assert twice.height == once.height + 1  # the original got another variant, the variant itself none


def test_scenario_generator_uses_the_scenario_vocabulary():
    rows = chat_rows(["a", "b", "c"], label=["refund", "refund", "shipping"])
    result = run_component(GreetingProbe, rows)
    probes = result.table.filter(pl.col("origin") == "greeting-probe")
    assert probes["id"].to_list() == ["greeting-probe-refund", "greeting-probe-shipping"]
    assert set(probes["expected_behavior"]) == {"ask_clarification"} and set(probes["scenario"]) == {"ambiguity"}


def test_trainer_writes_its_model_as_an_artifact(tmp_path):
    rows = chat_rows(["a", "b", "c"], label=["refund", "refund", "shipping"], split=["train", "train", "test"])
    ctx = scratch_context(tmp_path)
    result = run_component(MajorityLabel, rows, ctx)
    assert json.loads((tmp_path / result.artifacts["model"]).read_text())["label"] == "refund"


def test_trainer_without_training_rows_says_what_to_do():
    try:
        run_component(MajorityLabel, chat_rows(["a"]))
    except workbench.WorkbenchError as exc:
        assert exc.hint == "add a split step first"
    else:
        raise AssertionError("expected a WorkbenchError")


def test_step_drops_rows_with_their_reason():
    rows = chat_rows(["a", "b"], label=["refund", "spam"])
    result = run_component(KeepLabels, rows, labels=["refund"])
    assert result.table["id"].to_list() == ["r0"]
    assert result.ledger["reason"].to_list() == ["label 'spam' not kept"]


def test_metric_scores_each_answer():
    frame = pl.DataFrame({"prediction": ["Done. Is there anything else I can help you with today?", "Done."]})
    result = run_component(RequiredPhrase, frame)
    assert isinstance(result, workbench.MetricResult)
    assert (result.score, result.per_example) == (0.5, [1.0, 0.0])
