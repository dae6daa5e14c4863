"""The evaluate and report steps in a real run on tiny models."""

from __future__ import annotations

import json

import polars as pl
import pytest

from workbench.runtime import store
from workbench.runtime.engine import execute
from workbench.runtime.runfile import parse_runfile

PAYLOAD = "<script>window.pwned=1</script><img src=x onerror=\"document.title='pwned'\">"


def write_data(folder):
    rows = []
    for i in range(6):
        rows.append({"id": f"r{i}", "label": ["billing", "account"][i % 2], "split": "test",
                     "source_id": "r0" if i == 3 else f"r{i}",
                     "messages": [{"role": "system", "content": "You are a support agent."},
                                  {"role": "user", "content": f"Question {i}: how do I reset my password? {PAYLOAD}"},
                                  {"role": "assistant", "content": f"Open Settings and choose Reset {i}."}]})
    rows.append({"id": "train-only", "split": "train", "messages": [{"role": "user", "content": "hi"},
                                                                   {"role": "assistant", "content": "hello"}]})
    rows.append({"id": "s1", "expected_behavior": "ask_clarification", "scenario": "ambiguous",
                 "messages": [{"role": "user", "content": "Fix it"},
                              {"role": "assistant", "content": "Could you tell me what is broken?"}]})
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def tuned_dir(tmp_path_factory):
    from workbench.lm.tiny import tiny_causal_lm

    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-tuned") / "tiny", seed=1)


def runfile(tmp_path, base, tuned, *, against=None, name="evalrun"):
    evaluate = {"base_model": str(base), "tuned_model": str(tuned), "decode": {"max_new_tokens": 6},
                "metrics": ["chrf", "bleu", "accuracy", "rouge_l", "behavior", "perplexity"],
                "bootstrap_resamples": 50, "ar_trials": 50}
    report = {"against": against} if against else {}
    return parse_runfile({"run": {"name": name, "seed": 5}, "steps": [
        {"kind": "load", "options": {"path": str(write_data(tmp_path))}},
        {"kind": "evaluate", "options": evaluate},
        {"kind": "report", "options": report},
    ]}, base_dir=tmp_path)


@pytest.mark.slow
def test_evaluate_and_report_in_a_real_run(tmp_path, tiny_model_dir, tuned_dir):
    from workbench.evaluation.votes import add_vote

    outcome = execute(runfile(tmp_path, tiny_model_dir, tuned_dir))
    evaluate_dir = outcome.steps[1].folder
    results = store.read_json(evaluate_dir / "results.json")
    assert results["n_examples"] == 7  # 6 test rows + the scenario row; the train row is left out
    assert results["generation"]["base"] == {"generated": 7, "cached": 0, "hit_max_new_tokens": 7}  # never stops
    comparison = results["comparisons"]["tuned"]
    assert set(comparison) == {"chrf", "bleu", "accuracy", "rouge_l", "behavior", "perplexity"}
    assert "p_value_ar" in comparison["chrf"]["extra"]
    # the tiny model's answers name no intent, so label metrics say why they do not apply
    assert "names a label" in comparison["accuracy"]["skipped"]
    assert comparison["behavior"]["method"].startswith("McNemar")  # pass / fail per example
    per_behaviour = comparison["behavior"]["by_group"]
    assert per_behaviour["column"] == "expected_behavior"
    assert set(per_behaviour["groups"]) == {"ask_clarification"}
    assert per_behaviour["groups"]["ask_clarification"]["n_paired"] == 1
    assert "p_value" in per_behaviour["groups"]["ask_clarification"]
    decision = results["scores"]["base"]["behavior"]["details"]["decisions"][0]
    assert decision["rule_name"] == "ask_clarification" and "evidence" in decision
    assert results["slices"]["tuned"]["label"][0]["n"] == 3
    assert [s["value"] for s in results["slices"]["tuned"]["augmented"]] == ["False", "True"]
    assert results["forgetting"]["models"]["tuned"]["probes"]
    examples = pl.read_parquet(evaluate_dir / "examples.parquet")
    assert examples.height == 14 and "score_chrf" in examples.columns
    assert outcome.table.height == 8  # the evaluate step passes every row through

    report_dir = outcome.steps[2].folder
    html = (report_dir / "report.html").read_text()
    assert "<script>window.pwned" not in html and "&lt;script&gt;window.pwned" in html
    assert "Data lineage" in html and "Forgetting check" in html
    assert "per behaviour: McNemar" in html and "ask_clarification: no clarification cue" in html  # rule + evidence
    assert json.loads((report_dir / "report.json").read_text())["results"]["n_examples"] == 7

    # re-running regenerates nothing: every answer comes from the runs folder's generation cache
    add_vote(outcome.run_dir, "r1", "tuned")
    again = execute(runfile(tmp_path, tiny_model_dir, tuned_dir), force=True)
    results = store.read_json(again.steps[1].folder / "results.json")
    assert results["generation"] == {"base": {"generated": 0, "cached": 7, "hit_max_new_tokens": 7},
                                     "tuned": {"generated": 0, "cached": 7, "hit_max_new_tokens": 7}}
    report = json.loads((again.steps[2].folder / "report.json").read_text())
    assert report["votes"]["tally"] == {"base": 0, "tuned": 1, "tie": 0}

    # a second run's models join the first run's in one table, tested on the shared examples
    other = execute(runfile(tmp_path, tiny_model_dir, tuned_dir, against="evalrun", name="evalrun2"))
    report = json.loads((other.steps[2].folder / "report.json").read_text())
    assert report["results"]["generation"]["base"]["generated"] == 0  # the first run's answers, shared
    table = report["runs_table"]
    assert report["against"] == ["evalrun"]
    assert table["columns"] == ["evalrun2:base", "evalrun2:tuned", "evalrun:base", "evalrun:tuned"]
    assert table["shared_examples"] == 7
    chrf = next(r for r in table["rows"] if r["metric"] == "chrf")["cells"]
    same = chrf["evalrun:base"]["vs_reference"]  # the same model and prompts in both runs: no difference
    assert same["difference"] == 0 and same["p_value"] == 1.0 and same["n_paired"] == 7
    assert chrf["evalrun2:base"]["ci"][0] <= chrf["evalrun2:base"]["score"] <= chrf["evalrun2:base"]["ci"][1]
    assert "Models and runs compared" in (other.steps[2].folder / "report.html").read_text()


def test_report_command_needs_an_evaluate_step(tmp_path, capsys):
    from workbench.cli import main

    data = write_data(tmp_path)
    execute(parse_runfile({"run": {"name": "noeval"}, "steps": [{"kind": "load", "options": {"path": str(data)}}]},
                          base_dir=tmp_path))
    assert main(["report", "noeval"]) == 1
    assert "no finished evaluate step" in capsys.readouterr().err


def test_votes_keep_the_latest_per_voter(tmp_path):
    from workbench.evaluation.votes import add_vote, load_votes, tally

    add_vote(tmp_path, "x", "base", voter="ann")
    add_vote(tmp_path, "x", "tuned", voter="ann")
    add_vote(tmp_path, "x", "tie", voter="bob")
    assert tally(load_votes(tmp_path)) == {"base": 0, "tuned": 1, "tie": 1}
    with pytest.raises(ValueError):
        add_vote(tmp_path, "x", "both")
