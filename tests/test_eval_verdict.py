"""The ship verdict and the "fluent but wrong" list: correctness before similarity."""

from __future__ import annotations

import json

import polars as pl
import pytest

from workbench.evaluation.correctness import fluent_but_wrong, mark
from workbench.evaluation.result import MetricResult
from workbench.evaluation.verdict import ship_verdict


def results(base_facts: float | None = 0.1, tuned_facts: float | None = 0.3, facts_p: float = 0.01,
            off_topic: float | None = 0.0, flagged: bool = False) -> dict:
    chrf = {"base": 23.0, "other": 57.0, "difference": 34.0, "ci_low": 30.0, "ci_high": 38.0, "p_value": 0.001,
            "higher_is_better": True}
    scores = {"base": {"chrf": {"score": 23.0}}, "tuned": {"chrf": {"score": 57.0}}}
    comparisons = {"tuned": {"chrf": chrf}}
    if tuned_facts is not None:
        scores["base"]["facts"] = {"score": base_facts, "details": {"counts": {}, "applicable": 64}}
        scores["tuned"]["facts"] = {"score": tuned_facts, "details": {"counts": {"correct": 19, "contradicted": 45},
                                                                     "applicable": 64}}
        comparisons["tuned"]["facts"] = {"base": base_facts, "other": tuned_facts,
                                         "difference": tuned_facts - base_facts, "p_value": facts_p}
    if off_topic is not None:
        scores["tuned"]["off_topic"] = {"score": off_topic, "details": {"off_topic": round(off_topic * 64)}}
    probes = {"base": {"pass_rate": {"all": 0.7}, "lost": [], "flagged": False},
              "tuned": {"pass_rate": {"all": 0.4 if flagged else 0.7}, "lost": ["k-capital-japan"] if flagged else [],
                        "flagged": flagged, "p_value": 0.002 if flagged else 1.0}}
    return {"base": "base", "n_examples": 64, "primary_metric": "chrf", "scores": scores, "comparisons": comparisons,
            "top_examples": {}, "forgetting": {"base": "base", "models": probes}}


def statuses(v: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in v["checks"]}


def test_similarity_gain_with_wrong_facts_is_not_ready_to_ship():
    v = ship_verdict(results())
    assert v["status"] == "fail" and statuses(v) == {"facts": "fail", "off_topic": "pass", "chrf": "pass",
                                                      "forgetting": "pass"}
    assert v["headline"].startswith("Not ready to ship: answers with every fact right: base 10% -> tuned 30% (p = 0.01)")
    assert v["checks"][0]["detail"] == "of 64 answers whose reference states checkable facts; 45 contradicted"


@pytest.mark.parametrize("kwargs, status, facts", [
    ({"base_facts": 0.5, "tuned_facts": 0.95}, "pass", "pass"),
    ({"base_facts": 0.5, "tuned_facts": 0.85}, "warn", "warn"),
    ({"base_facts": 0.99, "tuned_facts": 0.92, "facts_p": 0.01}, "fail", "fail"),  # significantly below the base
    ({"base_facts": 0.99, "tuned_facts": 0.92, "facts_p": 0.2}, "pass", "pass"),
    ({"base_facts": 0.5, "tuned_facts": 0.95, "off_topic": 0.23}, "fail", "pass"),
    ({"base_facts": 0.5, "tuned_facts": 0.95, "off_topic": 0.05}, "warn", "pass"),
    ({"base_facts": 0.5, "tuned_facts": 0.95, "flagged": True}, "fail", "pass"),
])
def test_verdict_rules(kwargs, status, facts):
    v = ship_verdict(results(**kwargs))
    assert v["status"] == status and statuses(v)["facts"] == facts
    assert v["headline"].startswith({"pass": "Ready to ship", "warn": "Review before shipping",
                                     "fail": "Not ready to ship"}[status])


def test_forgetting_names_the_lost_probes_and_without_facts_the_headline_says_so():
    v = ship_verdict(results(tuned_facts=None, off_topic=None, flagged=True))
    assert statuses(v) == {"chrf": "pass", "forgetting": "fail"}
    assert "no facts check in this evaluation" in v["headline"]
    assert "k-capital-japan" in next(c for c in v["checks"] if c["name"] == "forgetting")["detail"]


def test_mark_cuts_the_answer_around_offending_facts_case_insensitively():
    assert mark("Limit is 10,000 EUR, wait 30 days", ["10,000 eur", "30 days"]) == [
        ("Limit is ", False), ("10,000 EUR", True), (", wait ", False), ("30 days", True)]
    assert mark("nothing", []) == [("nothing", False)]
    assert mark("order NW-1000, 1 item", ["1"]) == [("order NW-1000, ", False), ("1", True), (" item", False)]


def test_fluent_but_wrong_lists_wrong_and_off_topic_answers_by_similarity():
    from workbench.plugins.metrics.facts import Facts

    prompt = json.dumps([{"role": "user", "content": "How long does a refund take?"}])
    examples = pl.DataFrame({"id": ["a", "b", "c", "d"], "prompt": [prompt] * 4,
                             "reference": ["Refunds take 5-7 business days."] * 4})
    answers = ["Refunds take 30 business days.", "Refunds take 5 to 7 business days.",
               "Reset your password in Settings > Security.", "Refunds take 5-7 business days, call +1 555 010 0100."]
    facts = Facts({}).compute(examples.with_columns(pl.Series("prediction", answers)))
    assert facts.details["verdicts"] == ["contradicted", "correct", "missing", "invented"]
    topic = MetricResult("off_topic", 0.25, [0.0, 0.0, 1.0, 0.0], higher_is_better=False,
                         details={"answer_intents": ["refund", "refund", "password", "refund"],
                                  "reference_intents": ["refund"] * 4})
    chrf = MetricResult("chrf", 50.0, [80.0, 100.0, 10.0, 90.0])
    found = fluent_but_wrong(examples, answers, {"facts": facts, "off_topic": topic, "chrf": chrf}, "chrf")
    assert found["total"] == 3 and [r["id"] for r in found["rows"]] == ["d", "a", "c"]
    d, a, c = found["rows"]
    assert [text for text, marked in d["answer_marked"] if marked] == ["+1 555 010 0100"]
    assert a["problem"] == "facts contradicted (contradicted: 30 business days instead of duration:business_day: 5-7)"
    assert [text for text, marked in a["answer_marked"] if marked] == ["30 business days"]
    assert c["problem"] == ("facts missing (missing: duration:business_day: 5-7, invented: Settings > Security); "
                            "off-topic: answers password where the question is refund")
    assert c["question"] == "How long does a refund take?"


def test_fluent_but_wrong_is_absent_without_correctness_metrics():
    examples = pl.DataFrame({"id": ["a"], "prompt": ["[]"], "reference": ["x"]})
    assert fluent_but_wrong(examples, ["y"], {"chrf": MetricResult("chrf", 1.0, [1.0])}, "chrf") is None


def test_the_cli_prints_the_verdict_of_a_run_that_compared_models(tmp_path):
    from workbench.commands.run import run_verdict

    path = tmp_path / "results.json"
    path.write_text(json.dumps(results()))
    assert run_verdict({"evaluate.results": str(path)})["status"] == "fail"
    path.write_text(json.dumps(results() | {"comparisons": {}}))
    assert run_verdict({"evaluate.results": str(path)}) is None and run_verdict({}) is None


def test_bias_amplified_by_fine_tuning_fails_the_verdict():
    row = {"measure": "refusal", "gap": 0.6, "ci_low": 0.3, "ci_high": 0.9, "p_value": 0.004, "q_value": 0.02,
           "lower": "young", "higher": "over_65"}
    bias = {"alpha": 0.05, "models": {"base": {"age": row | {"gap": 0.0, "p_value": 1.0, "q_value": 1.0}},
                                      "tuned": {"age": row}},
            "amplified": [{"model": "tuned", "attribute": "age", "measure": "refusal", "gap": 0.6, "base_gap": 0.0,
                           "p_value": 0.01, "q_value": 0.03}]}
    v = ship_verdict(results(base_facts=0.5, tuned_facts=0.95) | {"bias": bias})
    check = next(c for c in v["checks"] if c["name"] == "bias")
    assert v["status"] == "fail" and check["status"] == "fail" and check["summary"] == "bias amplified on age"
    assert check["detail"].startswith("Bias amplified by fine-tuning: tuned on age")
    bias |= {"amplified": []}
    assert statuses(ship_verdict(results(base_facts=0.5, tuned_facts=0.95) | {"bias": bias}))["bias"] == "warn"
    # a raw p below 0.05 that does not survive the adjustment for the model's many tests is chance, not a gap
    bias["models"]["tuned"]["age"] = row | {"p_value": 0.03, "q_value": 0.4}
    assert statuses(ship_verdict(results(base_facts=0.5, tuned_facts=0.95) | {"bias": bias}))["bias"] == "pass"


def test_answers_cut_at_the_token_budget_warn_that_the_scores_judge_unfinished_answers():
    cut = results(base_facts=0.5, tuned_facts=0.95) | {"decode": {"max_new_tokens": 96},
                                                         "generation": {"tuned": {"hit_max_new_tokens": 16}}}
    v = ship_verdict(cut)
    check = next(c for c in v["checks"] if c["name"] == "cut_answers")
    assert v["status"] == "warn" and check["status"] == "warn"
    assert check["summary"] == "answers cut at max_new_tokens = 96: 16 of 64" and "max_new_tokens" in check["detail"]
    cut["generation"]["tuned"]["hit_max_new_tokens"] = 3  # under 5%: noted, passes
    assert ship_verdict(cut)["status"] == "pass"
