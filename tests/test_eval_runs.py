"""Many models in one table (runs, grid trials) and the `workbench evaluate` command."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from workbench.evaluation.runs_table import Column, runs_table

REFS = [f"please reset the password of account number {i} from the settings page" for i in range(30)]
BAD = [f"i do not know about item {i}" for i in range(30)]


def column(label, preds, ids=None, refs=REFS):
    ids = ids or [f"e{i}" for i in range(len(preds))]
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    sentence = [chrf.sentence_score(p, [r]).score for p, r in zip(preds, refs)]
    passed = [float(p == r) for p, r in zip(preds, refs)]
    examples = pl.DataFrame({"id": ids, "prediction": preds, "reference": refs[:len(preds)],
                             "score_chrf": sentence, "score_exact_match": passed})
    scores = {"chrf": {"score": chrf.corpus_score(preds, [refs[:len(preds)]]).score, "aggregate": "corpus",
                       "higher_is_better": True},
              "exact_match": {"score": sum(passed) / len(passed), "aggregate": "mean", "higher_is_better": True}}
    run, model = label.split(":")
    return Column(label, run, model, scores, examples)


def test_runs_table_tests_every_column_against_the_reference():
    table = runs_table([column("a:base", BAD), column("a:tuned", REFS), column("b:base", BAD)], resamples=200,
                       trials=200)
    assert table["columns"] == ["a:base", "a:tuned", "b:base"] and table["reference"] == "a:base"
    rows = {r["metric"]: r["cells"] for r in table["rows"]}
    better = rows["chrf"]["a:tuned"]["vs_reference"]
    assert better["difference"] > 50 and better["p_value"] < 0.05 and better["ci_low"] > 0
    same = rows["chrf"]["b:base"]["vs_reference"]
    assert same["difference"] == 0 and same["p_value"] == 1.0
    assert rows["exact_match"]["a:tuned"]["vs_reference"]["method"].startswith("McNemar")
    low, high = rows["chrf"]["a:base"]["ci"]
    assert low <= rows["chrf"]["a:base"]["score"] <= high
    assert "vs_reference" not in rows["chrf"]["a:base"]


def test_runs_table_pairs_on_example_id():
    shuffled = list(reversed(range(30)))
    other = column("b:tuned", [REFS[i] for i in shuffled[:20]], ids=[f"e{i}" for i in shuffled[:20]],
                   refs=[REFS[i] for i in shuffled[:20]])
    table = runs_table([column("a:base", BAD), other], resamples=100, trials=100, reference="a:base")
    cell = next(r for r in table["rows"] if r["metric"] == "exact_match")["cells"]["b:tuned"]
    assert cell["vs_reference"]["n_paired"] == 20
    assert cell["vs_reference"]["extra"] == {"only_base_correct": 0, "only_other_correct": 20}
    assert table["shared_examples"] == 20


def test_grid_trials_are_found_and_named(tmp_path):
    from workbench.plugins.evaluation.evaluate import grid_trial_models, model_names

    step = tmp_path / "03-train-causal-lm"
    for d in ("model", "trials/01-lr=0.001/model", "trials/02-lr=0.01/model"):
        (step / d).mkdir(parents=True)
    trials = grid_trial_models(str(step / "model"))
    assert [p.split("/trials/")[1] for p in trials] == ["01-lr=0.001/model", "02-lr=0.01/model"]
    names = model_names("smollm2", str(step / "model"), trials)
    assert list(names) == ["base", "tuned", "trial:01-lr=0.001", "trial:02-lr=0.01"]
    assert grid_trial_models(str(tmp_path / "nothing")) == []


def write_suite(tmp_path, sample_dir):
    """A scenarios suite file from the sample data, as the template engine writes it."""
    from workbench.io import load_table
    from workbench.scenarios.review import preview
    from workbench.scenarios.rows import write_suite as write

    table = load_table(sample_dir / "support.jsonl").table
    p = preview(table, "scenario-templates", {"count": 2}, seed=3)
    path = tmp_path / "suite.jsonl"
    assert write(p.candidates, path) > 0
    return path


@pytest.mark.slow  # generates with two tiny models and loads MiniLM
def test_evaluate_command_writes_a_run_the_report_reads(tmp_path, tiny_model_dir, sample_dir, capsys):
    from workbench.cli import main
    from workbench.runtime import store
    from workbench.scenarios import EXPECTED_BEHAVIOR

    suite = write_suite(tmp_path, sample_dir)
    trials = tmp_path / "train" / "trials"
    for name in ("01-lr=0.001", "02-lr=0.01"):
        shutil.copytree(tiny_model_dir, trials / name / "model")
    args = ["evaluate", str(suite), "--model", str(tiny_model_dir), "--model", str(trials / "01-lr=0.001" / "model"),
            "--model", str(trials / "02-lr=0.01" / "model"), "--name", "suite-eval", "--max-new-tokens", "4",
            "--metrics", "chrf,rouge_l,behavior", "--resamples", "50", "--no-forgetting", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    run_dir = store.runs_root() / "suite-eval"
    assert out["run_dir"] == str(run_dir)
    results = store.read_json(next(run_dir.glob("steps/*-evaluate-*")) / "results.json")
    assert list(results["models"]) == ["base", "trial:01-lr=0.001", "trial:02-lr=0.01"]
    behaviours = results["scores"]["base"]["behavior"]["details"]["by_behavior"]
    assert set(behaviours) == set(EXPECTED_BEHAVIOR.values())  # every generated behaviour is judged by a rule
    assert "by_group" in results["comparisons"]["trial:01-lr=0.001"]["behavior"]

    # the run has three models: the report puts them in one table with intervals and paired tests
    assert main(["report", "suite-eval", "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)
    report = json.loads(open(paths["json"]).read())
    table = report["runs_table"]
    assert table["columns"] == ["suite-eval:base", "suite-eval:trial:01-lr=0.001", "suite-eval:trial:02-lr=0.01"]
    chrf = next(r for r in table["rows"] if r["metric"] == "chrf")["cells"]
    # the trials are copies of the base model: identical answers, no difference
    assert chrf["suite-eval:trial:02-lr=0.01"]["vs_reference"]["p_value"] == 1.0
    html = open(paths["html"]).read()
    assert "Models and runs compared" in html and "Scenario behaviour" in html

    # several runs in one table: --against is repeatable
    assert main(["evaluate", str(suite), "--model", str(tiny_model_dir), "--name", "again", "--max-new-tokens", "4",
                 "--metrics", "chrf", "--resamples", "50", "--no-forgetting", "--json"]) == 0
    capsys.readouterr()
    assert main(["report", "again", "--against", "suite-eval", "--against", "suite-eval", "--json"]) == 0


def test_evaluate_command_names_a_missing_model(tmp_path, capsys):
    from workbench.cli import main

    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}))
    assert main(["evaluate", str(data), "--model", str(tmp_path / "nope")]) == 1
    assert "not found" in capsys.readouterr().err
