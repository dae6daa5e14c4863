"""The model engine: the same scenario types written by a language model."""

from __future__ import annotations

import json

import polars as pl
import pytest
from test_scenario_domain import support_table

from workbench.context import scratch_context
from workbench.ledger import balance_problem
from workbench.plugins.scenarios.model_engine import ModelScenarios, clean
from workbench.scenarios import EXPECTED_BEHAVIOR, SCENARIO_TYPES


def generate(tmp_path, model: str, **options):
    table = support_table()
    result = ModelScenarios({"model": model, "min_chars": 1, **options}).run(table, scratch_context(tmp_path, seed=3))
    assert balance_problem(table.height, result) is None
    return result, result.table.filter(pl.col("scenario").is_not_null()).to_dicts()


def test_tiny_model_writes_every_type_in_batches(tmp_path, tiny_model_dir):
    result, rows = generate(tmp_path, str(tiny_model_dir), count=1, modes=["suite", "train"], max_new_tokens=8,
                            reference_max_new_tokens=8, max_chars=10_000,
                            temperature=1.0)  # greedy decoding of random weights repeats an empty token
    drafted_types = {r["scenario"] for r in rows} | {
        json.loads(d)["scenario"] for d in result.ledger.filter(pl.col("action") == "rejected")["detail"]}
    assert drafted_types == set(SCENARIO_TYPES)
    assert rows, result.ledger
    for row in rows:
        meta = json.loads(row["meta"])
        assert row["expected_behavior"] == EXPECTED_BEHAVIOR[row["scenario"]]
        assert meta["engine"] == "model" and meta["model"] == str(tiny_model_dir) and meta["generated"]
        assert "{" not in meta["prompt"] and isinstance(meta["seed"], int)
        if meta["mode"] == "train":
            assert row["messages"][-1]["role"] == "assistant" and meta["reference_by"] == "model"
    assert (tmp_path / "scenarios_suite.jsonl").exists()


def test_prompts_are_editable_per_type_and_validated():
    opts = ModelScenarios({"prompts": {"ambiguity": "Make this vague: {request}"}}).options
    assert opts.prompts["ambiguity"] == "Make this vague: {request}"
    assert set(opts.prompts) == set(SCENARIO_TYPES), "types not overridden keep their default prompt"
    with pytest.raises(ValueError, match="unknown placeholder"):
        ModelScenarios({"prompts": {"ambiguity": "Use {nothing}"}})
    with pytest.raises(ValueError, match="unknown scenario type"):
        ModelScenarios({"prompts": {"small_talk": "{request}"}})


def test_language_complexity_alternates_plain_and_nuanced(tmp_path, tiny_model_dir):
    _, rows = generate(tmp_path, str(tiny_model_dir), types=["language_complexity"], count=4, modes=["suite"],
                       write_references=False, max_new_tokens=8, max_chars=10_000, temperature=1.0,
                       plain_prompt="Say simply: {request}\nRewrite:")
    metas = [json.loads(r["meta"]) for r in rows]
    assert {m["complexity"] for m in metas} == {"plain", "nuanced"}
    for m in metas:
        assert m["prompt"].startswith("Say simply:") == (m["complexity"] == "plain")
    with pytest.raises(ValueError, match="unknown placeholder"):
        ModelScenarios({"plain_prompt": "{nope}"})


def test_clean_keeps_the_first_line_without_echoed_labels():
    assert clean('Rewrite: "Where is my parcel?"\nMessage: more') == "Where is my parcel?"
    assert clean("\n\nCan I pay later?") == "Can I pay later?"


@pytest.mark.slow
def test_smollm2_writes_readable_scenarios(tmp_path):
    _, rows = generate(tmp_path, "smollm2", types=["persona_tone", "ambiguity"], count=2, min_chars=8,
                       write_references=False, max_new_tokens=40)
    assert rows
    prompts = [r["messages"][-1]["content"] for r in rows]
    assert all(len(p.split()) >= 2 for p in prompts), prompts
