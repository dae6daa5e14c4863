"""Preview, edit, accept or reject generated scenarios before they join a dataset."""

from __future__ import annotations

import json

import polars as pl
import pytest
from test_scenario_domain import support_table

from workbench.errors import WorkbenchError
from workbench.plugins.scenarios import register_scenario_generators
from workbench.plugins.scenarios.model_engine import ModelScenarios
from workbench.plugins.scenarios.template_engine import TemplateScenarios
from workbench.scenarios.review import apply_decisions, join, preview


def test_the_plugin_registers_both_engines_and_the_counterfactual_probes():
    from workbench.plugins.scenarios.counterfactual import CounterfactualProbes

    registered = []
    register_scenario_generators(register=registered.append)
    assert registered == [TemplateScenarios, ModelScenarios, CounterfactualProbes]


def test_preview_writes_nothing_and_is_reproducible(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table = support_table()
    first = preview(table, TemplateScenarios, {"types": ["ambiguity", "false_premise"], "count": 2}, seed=4)
    again = preview(table, TemplateScenarios(), seed=4)
    assert first.candidates.height == 4 and not list(tmp_path.iterdir())
    assert first.candidates.to_dicts() == preview(table, TemplateScenarios, {"types": ["ambiguity", "false_premise"],
                                                                             "count": 2}, seed=4).candidates.to_dicts()
    assert again.stats["planned"] == 32 and first.stats["per_type"] == {"ambiguity": 2, "false_premise": 2}


def test_decisions_accept_reject_and_edit():
    table = support_table()
    cands = preview(table, TemplateScenarios, {"types": ["ambiguity"], "count": 3}, seed=1).candidates
    a, b, c = cands.get_column("id").to_list()
    reviewed = apply_decisions(cands, {a: "accept", b: {"action": "reject", "reason": "off topic"},
                                       c: {"prompt": "Can you help with that?", "reference": "Which order do you mean?"}})
    assert reviewed.rows.get_column("id").to_list() == [a, c]
    edited = reviewed.rows.filter(pl.col("id") == c).to_dicts()[0]
    assert [m["content"] for m in edited["messages"][-2:]] == ["Can you help with that?", "Which order do you mean?"]
    meta = json.loads(edited["meta"])
    assert meta["edited"] and meta["reference_by"] == "human" and edited["scenario"] == "ambiguity"
    ledger = reviewed.ledger.select("row_id", "action", "reason").rows()
    assert ledger == [(a, "added", "accepted in review"), (b, "rejected", "rejected in review"),
                      (c, "added", "edited in review")]
    joined = join(table, reviewed)
    assert joined.height == table.height + 2 and joined.get_column("id").n_unique() == joined.height


def test_undecided_candidates_follow_the_default():
    cands = preview(support_table(), TemplateScenarios, {"types": ["persona_tone"], "count": 2}).candidates
    assert apply_decisions(cands, {}).rows.height == 0
    assert apply_decisions(cands, {}, default="accept").rows.height == 2


@pytest.mark.parametrize("decision, message", [
    ("maybe", "must be 'accept', 'reject'"),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, "no user turn"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "role"),
    ({"colour": "red"}, "unknown keys"),
])
def test_bad_decisions_are_clear_errors(decision, message):
    cands = preview(support_table(), TemplateScenarios, {"types": ["ambiguity"], "count": 1}).candidates
    with pytest.raises(WorkbenchError, match=message):
        apply_decisions(cands, {cands["id"][0]: decision})
    with pytest.raises(WorkbenchError, match="unknown candidate ids"):
        apply_decisions(cands, {"nope": "accept"})
