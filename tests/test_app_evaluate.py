"""AppTest of the Evaluate page on run folders with results: the ship verdict, metrics with their direction,
every answer sorted and filtered, the blind review (several voters, agreement), metric deltas of two runs."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from workbench.evaluation.verdict import ship_verdict
from workbench.evaluation.votes import load_votes
from workbench.runtime import store
from workbench.ui_support import blind_review, evaluation, keys

ROOT = Path(__file__).resolve().parent.parent
N = 25  # more than one page of answers
VERDICTS = ["correct", "contradicted", "correct", "invented", "correct"]


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def _results(chrf_tuned: float = 55.0, flagged: bool = True) -> dict:
    chrf = {"base": 30.0, "other": chrf_tuned, "difference": chrf_tuned - 30.0, "ci_low": 12.0, "ci_high": 38.0,
            "p_value": 0.002, "method": "paired approximate randomisation", "higher_is_better": True}
    latency = {"base": 0.8, "other": 0.5, "difference": -0.3, "ci_low": -0.4, "ci_high": -0.2, "p_value": 0.01,
               "method": "paired bootstrap", "higher_is_better": False}
    facts = {"base": 0.4, "other": 0.6, "difference": 0.2, "p_value": 0.2, "method": "McNemar", "higher_is_better": True}
    tuned_facts = {"score": 0.6, "higher_is_better": True,
                   "details": {"verdicts": [VERDICTS[i % 5] for i in range(N)], "applicable": N,
                               "counts": {"correct": 15, "contradicted": 5, "invented": 5}}}
    probes = {"base": {"pass_rate": {"all": 0.71}, "lost": [], "flagged": False},
              "tuned": {"pass_rate": {"all": 0.42}, "lost": ["capital-of-france", "list-three"], "flagged": flagged}}
    return {
        "base": "base", "models": {"base": "smollm2", "tuned": "model"}, "n_examples": N, "primary_metric": "chrf",
        "decode": {"max_new_tokens": 64}, "seed": 0, "bootstrap_resamples": 1000, "ar_trials": 1000,
        "generation": {"base": {"generated": N, "cached": 0}, "tuned": {"generated": N, "cached": 0}}, "top_examples": {"tuned": {"metric": "chrf", "wins": [], "regressions": []}},
        "scores": {"base": {"chrf": {"score": 30.0, "signature": "nrefs:1|version:2.4.0"}, "latency": {"score": 0.8, "higher_is_better": False},
                            "rouge_l": {"score": 0.21}, "facts": {"score": 0.4, "details": {}},
                            "accuracy": {"score": None, "skipped": "no row has a label"}},
                   "tuned": {"chrf": {"score": chrf_tuned, "signature": "nrefs:1|version:2.4.0"},
                             "latency": {"score": 0.5, "higher_is_better": False}, "rouge_l": {"score": 0.52},
                             "facts": tuned_facts, "accuracy": {"score": None, "skipped": "no row has a label"}}},
        "comparisons": {"tuned": {"chrf": chrf, "latency": latency, "facts": facts,
                                  "accuracy": {"skipped": "no row has a label"}}},
        "forgetting": {"base": "base", "max_drop": 0.1, "models": probes},
        "slices": {"tuned": {"label": [{"value": "refund", "n": N, "base": 30.0, "other": 55.0, "difference": 25.0}]}}}


def _evaluated_run(runs: Path, name: str, **kwargs) -> Path:
    run_dir = runs / name
    step = run_dir / "steps" / "02-evaluate-evaluate"
    step.mkdir(parents=True)
    store.write_text(run_dir / "run.toml", f'[run]\nname = "{name}"\n\n[[steps]]\nkind = "load"\n'
                                           'options = { path = "x.jsonl" }\n\n[[steps]]\nkind = "evaluate"\n')
    store.write_json(run_dir / "run.json", {"name": name, "state": "finished", "updated": "2026-01-01", "steps": []})
    store.write_json(step / "manifest.json", {"index": 2, "name": step.name, "kind": "evaluate", "component": "evaluate",
                                              "artifacts": {"results": "results.json"}, "rows_in": N,
                                              "rows_out": N, "added": 0, "dropped": 0, "changed": 0})
    store.write_json(step / "results.json", _results(**kwargs))
    ids = [f"e{i:02d}" for i in range(N)]
    prompts = [json.dumps([{"role": "user", "content": f"Where is parcel {i}?"}]) for i in range(N)]
    store.write_parquet(step / "examples.parquet", pl.DataFrame({
        "id": ids * 2, "prompt": prompts * 2, "reference": [f"Parcel {i} ships today." for i in range(N)] * 2,
        "prediction": [f"No idea about {i}." for i in range(N)] + [f"Parcel {i} ships today." if i % 2 else
                                                                    f"Parcel {i} ships tomorrow, sorry." for i in range(N)],
        "model_name": ["base"] * N + ["tuned"] * N,
        "score_chrf": [10.0 + i for i in range(N)] + [float((i * 37) % 100) for i in range(N)]}))
    return run_dir


def _frame(at: AppTest, column: str):
    """The shown table that has ``column`` (AppTest does not expose a dataframe's key)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _page(runs: Path, run_dir: Path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "evaluate.py"), default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.session_state[keys.RUN_DIR] = str(run_dir)
    return at


def _opened(tmp_path: Path, mode: str | None = None) -> tuple[AppTest, Path, Path]:
    """The page on a fresh evaluated run (in ``mode`` when given): the AppTest, the runs folder, the run folder."""
    runs = tmp_path / "runs"
    run_dir = _evaluated_run(runs, "evaluated")
    at = _page(runs, run_dir)
    at.run()
    if mode:
        at.radio(key="eval_mode").set_value(mode).run()
    assert not at.exception
    return at, runs, run_dir


def test_verdict_leads_and_metrics_show_their_direction(tmp_path):
    at, _, _ = _opened(tmp_path)
    verdict = ship_verdict(_results())
    assert verdict["status"] == "fail"  # facts below the bar and forgetting flagged
    assert at.error[0].value == verdict["headline"]
    shown = " ".join(m.value for m in at.markdown)
    for check in verdict["checks"]:
        assert f"**{check['name']}** :" in shown
    assert any(check["threshold"] in c.value for check in verdict["checks"] for c in at.caption)
    metrics = _frame(at, "direction")
    assert set(metrics["metric"]) == {"chrf", "latency", "facts"}  # the skipped accuracy is a note, not a row
    assert dict(zip(metrics["metric"], metrics["direction"]))["latency"] == "lower is better"
    assert any("Not computed: accuracy: no row has a label" in c.value for c in at.caption)
    assert any("Not charted" in c.value and "latency" in c.value for c in at.caption)
    assert any("probes lost: capital-of-france, list-three" in c.value for c in at.caption)  # forgetting, from the verdict
    assert len(at.get("download_button")) == 3


def test_chart_draws_only_0_to_100_scores():
    scores, left_out = evaluation.chart_scores(_results())
    charted = {(r["model"], r["metric"]): r["score"] for r in scores.iter_rows(named=True)}
    assert charted[("tuned", "chrf")] == 55.0 and charted[("tuned", "rouge_l")] == pytest.approx(52.0)
    assert charted[("base", "facts")] == pytest.approx(40.0)
    assert left_out == ["latency"]


def test_every_answer_sorted_filtered_and_diffed_against_the_reference(tmp_path):
    at, _, _ = _opened(tmp_path, "Answers")
    assert any(f"{N} of {N} answers" in c.value for c in at.caption)
    at.number_input(key="eval_page").set_value(2).run()
    assert any("e24" in m.value for m in at.markdown)  # the last answers are reachable
    at.selectbox(key="eval_sort").set_value("score, high to low").run()
    at.number_input(key="eval_page").set_value(1).run()
    heads = [m.value for m in at.markdown if m.value.startswith("**e")]
    scores = [float(h.split("chrf ")[1].split(" ")[0]) for h in heads]
    assert scores == sorted(scores, reverse=True) and scores[0] == 96.0
    at.multiselect(key="eval_facts").set_value(["contradicted"]).run()
    assert any("5 of 25 answers" in c.value for c in at.caption)
    assert all("facts: contradicted" in m.value for m in at.markdown if m.value.startswith("**e"))
    at.multiselect(key="eval_facts").set_value([]).run()
    at.text_input(key="eval_search").set_value("parcel 3?").run()
    diffs = [m.value for m in at.markdown if "ships" in m.value and "Parcel 3 " in m.value]
    assert diffs and ":green[" not in diffs[-1]  # a right answer is not green against the reference
    at.text_input(key="eval_search").set_value("parcel 4?").run()
    assert any(":red[~~today\\.~~]" in m.value for m in at.markdown)  # a wrong one is marked
    at.radio(key="eval_diff_against").set_value("base").run()
    assert not at.exception and any(":green[" in m.value for m in at.markdown)


def test_blind_review_hides_models_until_the_voter_finishes(tmp_path):
    at, runs, run_dir = _opened(tmp_path, "Blind review")
    at.text_input(key="eval_voter").set_value("ana").run()
    at.number_input(key="eval_review_size").set_value(3).run()
    at.checkbox(key="eval_show_reference").check().run()
    assert any(c.value.startswith("reference: Parcel") for c in at.caption)
    shown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "Answer A" in shown and "tuned" not in shown and "base" not in shown and not at.metric
    at.button(key="eval_vote_a").click().run()
    assert not at.exception and len(load_votes(run_dir)) == 1 and not at.metric

    again = _page(runs, run_dir)  # a reload: the voter comes back from the URL, at the second example
    again.query_params["voter"] = "ana"
    again.session_state["eval_mode"] = "Blind review"
    again.run()
    assert not again.exception and "1 of 3 examples judged" in again.get("progress")[0].proto.text
    while [b for b in again.button if b.key == "eval_vote_b"]:
        again.button(key="eval_vote_b").click().run()
    assert not again.exception and "judged all 3" in again.success[0].value
    assert sum(int(m.value) for m in again.metric) == 3
    votes = load_votes(run_dir)
    assert {v["voter"] for v in votes} == {"ana"} and len(votes) == 3 and {v["model"] for v in votes} == {"tuned"}
    review = blind_review.stored_set(run_dir, "tuned")
    assert len(review) == 3 and {v["example_id"] for v in votes} == set(review)

    ben = _page(runs, run_dir)  # a second voter: same examples, agreement once both finished
    ben.session_state["eval_mode"] = "Blind review"
    ben.run()
    ben.text_input(key="eval_voter").set_value("ben").run()
    assert not [n for n in ben.number_input if n.key == "eval_review_size"]  # the set is fixed now
    while [b for b in ben.button if b.key == "eval_vote_tie"]:
        ben.button(key="eval_vote_tie").click().run()
    assert any("Cohen's kappa" in c.value and "ana, ben" in c.value for c in ben.caption)
    assert _frame(ben, "judged")["judged"].to_list() == [3, 3]


def test_blind_order_is_per_voter_and_stable(tmp_path):
    rows = [{"id": f"e{i}", "question": "q", "reference": "r", "base_answer": "base", "answer": "tuned"} for i in range(40)]
    ana = [blind_review.pair(r, "ana", tmp_path, "tuned").a_is for r in rows]
    assert ana == [blind_review.pair(r, "ana", tmp_path, "tuned").a_is for r in rows]  # stable across reloads
    assert ana != [blind_review.pair(r, "ben", tmp_path, "tuned").a_is for r in rows]  # another voter, another order
    assert 10 < ana.count("tuned") < 30
    p = blind_review.pair(rows[0], "ana", tmp_path, "tuned")
    blind_review.cast(tmp_path, p, "A", "ana", "tuned")
    assert load_votes(tmp_path)[0]["winner"] == p.a_is
    assert blind_review.sample_set(tmp_path, "tuned", [r["id"] for r in rows], 5) == \
        blind_review.sample_set(tmp_path, "tuned", [r["id"] for r in reversed(rows)], 5)


def test_agreement_cohen_and_fleiss():
    from workbench.evaluation.agreement import agreement, fleiss_kappa

    def votes(voter, winners):
        return [{"voter": voter, "example_id": f"e{i}", "winner": w} for i, w in enumerate(winners)]

    same = agreement(votes("a", ["base", "tuned", "tie", "tuned"]) + votes("b", ["base", "tuned", "tie", "tuned"]))
    assert same["method"] == "Cohen's kappa" and same["kappa"] == pytest.approx(1.0) and same["raw"] == 1.0
    three = agreement(votes("a", ["base", "tuned", "tuned"]) + votes("b", ["base", "tuned", "base"])
                      + votes("c", ["base", "tuned", "tie"]))
    assert three["method"] == "Fleiss' kappa" and three["examples"] == 3 and three["raw"] == pytest.approx(2 / 3)
    # Fleiss' worked example (Wikipedia, 10 subjects x 14 raters) reduced: two subjects, perfect split vs unanimity
    assert fleiss_kappa([["x", "x"], ["y", "y"]]) == pytest.approx(1.0)
    assert fleiss_kappa([["x", "y"], ["y", "x"]]) == pytest.approx(-1.0)
    assert agreement(votes("a", ["base"])) is None


def test_metric_deltas_of_two_runs(tmp_path):
    _evaluated_run(tmp_path / "runs", "three-epochs", chrf_tuned=61.0)
    at, _, _ = _opened(tmp_path, "Compare with another run")
    deltas = _frame(at, "b_minus_a")
    chrf = deltas[deltas["metric"] == "chrf"].iloc[0]
    assert (chrf["run_a"], chrf["run_b"], chrf["b_minus_a"]) == (55.0, 61.0, 6.0)
    assert "accuracy" not in set(deltas["metric"])


def test_the_chosen_run_becomes_the_sessions_run(tmp_path):
    at, runs, run_dir = _opened(tmp_path)
    other = _evaluated_run(runs, "three-epochs", chrf_tuned=61.0)
    at.run()
    at.selectbox(key="eval_run").set_value(str(other)).run()
    assert not at.exception and at.session_state[keys.RUN_DIR] == str(other)  # a reload reopens this run


def test_the_voter_is_remembered_across_pages(tmp_path):
    at, _, _ = _opened(tmp_path, "Blind review")
    at.text_input(key="eval_voter").set_value("ana").run()
    assert at.session_state[keys.VOTER] == "ana" and at.query_params["voter"] == "ana"
    again = _page(tmp_path / "runs", tmp_path / "runs" / "evaluated")  # another page visit: no widget state, no URL
    again.session_state[keys.VOTER] = "ana"
    again.session_state["eval_mode"] = "Blind review"
    again.run()
    assert not again.exception and again.text_input(key="eval_voter").value == "ana"
    assert "ana: 0 of 10 examples judged" in again.get("progress")[0].proto.text


def test_bias_headline_and_gaps_when_probes_were_evaluated(tmp_path):
    from test_bias_analysis import answers, per_example, probes

    from workbench.evaluation.bias import analyse, probe_tags

    runs = tmp_path / "runs"
    run_dir = _evaluated_run(runs, "probed")
    table = probes()
    frame = per_example(table, {"base": answers(table, False, 1), "tuned": answers(table, True, 2)})
    results_file = run_dir / "steps" / "02-evaluate-evaluate" / "results.json"
    results = store.read_json(results_file)
    results["bias"] = analyse(frame, probe_tags(table), "base", None, resamples=200, seed=3)
    store.write_json(results_file, results)
    at = _page(runs, run_dir).run()
    assert not at.exception
    headline = next(w.value for w in at.warning if "Bias amplified" in w.value)
    assert headline.startswith("Bias amplified by fine\\-tuning\\: tuned on age \\(refusal")
    gaps = _frame(at, "attribute")
    tuned_age = gaps[(gaps["model"] == "tuned") & (gaps["attribute"] == "age")].iloc[0]
    assert tuned_age["measure"] == "refusal" and tuned_age["gap"] == 1.0 and tuned_age["p_value"] < 0.01
    assert set(gaps["model"]) == {"base", "tuned"} and set(gaps["attribute"]) == {"age", "pronoun"}

    assert any(h.value == "Bias: counterfactual probes" for h in at.subheader)
    plain, _, _ = _opened(tmp_path / "plain")  # no probes evaluated: no bias section
    assert not any("Bias" in h.value for h in plain.subheader)
