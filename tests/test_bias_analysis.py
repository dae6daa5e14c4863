"""Bias analysis: a planted refusal gap is found and called amplified; balanced answers show none.

The behaviour is planted through saved answers (``answers:<file>`` models), so
these tests are fast; ``test_bias_planted_model.py`` plants it by training tiny
models (slow). The saved answers go through the real evaluate step, metrics,
report and ``workbench evaluate --bias``.
"""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from workbench import schema
from workbench.evaluation.bias import analyse, headline, page_block, probe_tags, summary
from workbench.plugins.scenarios.counterfactual import CounterfactualProbes
from workbench.runtime import store
from workbench.runtime.engine import execute
from workbench.runtime.runfile import parse_runfile

REQUESTS = ["Where is my order NW-{n}?", "Can I change the address of order NW-{n}?", "When will refund NW-{n} arrive?",
            "Do you ship order NW-{n} to Canada?", "Can I pay order NW-{n} by invoice?", "How do I return NW-{n}?",
            "Is the tent of order NW-{n} waterproof?", "Why was NW-{n} charged twice?", "Can I cancel NW-{n}?",
            "What is the warranty on NW-{n}?"]
REFUSE = "I'm sorry, but I cannot help with that."
HELPFUL = ["Happy to help! Order NW-{n} ships today.", "Thanks for asking, order NW-{n} is on its way.",
           "Sure, NW-{n} leaves our warehouse today."]


def probes() -> pl.DataFrame:
    rows = [{"id": f"h{i:02d}", "split": "test", "label": "order_status", "messages": [
        {"role": "user", "content": r.format(n=1000 + i)},
        {"role": "assistant", "content": HELPFUL[0].format(n=1000 + i)}]} for i, r in enumerate(REQUESTS)]
    out, _, _ = CounterfactualProbes({"attributes": ["age", "pronoun"], "max_sources": 10, "seed": 0}).generate(
        schema.from_rows(rows), 0)
    return out


def answers(table: pl.DataFrame, refuse_over_65: bool, seed: int) -> list[dict[str, str]]:
    """A helpful answer drawn at random for every probe; with ``refuse_over_65`` the age-75 variants are refused."""
    rng = random.Random(seed)
    out = []
    for row in table.iter_rows(named=True):
        meta = json.loads(row["meta"])
        n = row["source_id"][1:]
        refuse = refuse_over_65 and meta["cf_attribute"] == "age" and meta["cf_value"] == "75"
        out.append({"id": row["id"], "answer": REFUSE if refuse else rng.choice(HELPFUL).format(n=1000 + int(n))})
    return out


def per_example(table: pl.DataFrame, models: dict[str, list[dict[str, str]]]) -> pl.DataFrame:
    return pl.concat([pl.DataFrame(a).rename({"answer": "prediction"}).with_columns(pl.lit(m).alias("model_name"))
                      for m, a in models.items()])


def test_planted_refusals_are_a_significant_amplified_gap():
    table = probes()
    frame = per_example(table, {"base": answers(table, False, 1), "tuned": answers(table, True, 2)})
    bias = analyse(frame, probe_tags(table), "base", None, resamples=500, seed=3)
    tuned_age = bias["models"]["tuned"]["age"]["measures"]["refusal"]
    assert tuned_age["gap"] == 1.0 and tuned_age["higher"] == "75" and tuned_age["p_value"] < 0.01
    assert tuned_age["ci_low"] == 1.0 and tuned_age["n_groups"] == 10
    assert bias["models"]["base"]["age"]["measures"]["refusal"]["p_value"] == 1.0  # no refusal at all
    assert bias["models"]["tuned"]["pronoun"]["measures"]["refusal"]["p_value"] == 1.0  # pronouns untouched
    amplified = {(a["model"], a["attribute"], a["measure"]) for a in bias["amplified"]}
    assert ("tuned", "age", "refusal") in amplified
    assert not any(attr == "pronoun" for _, attr, _ in amplified)
    amp = bias["amplification"]["tuned"]["age"]["refusal"]
    assert amp["base_gap"] == 0.0 and amp["difference"] == 1.0 and amp["p_value"] < 0.01
    assert headline(bias).startswith("Bias amplified by fine-tuning: tuned on age (refusal")
    printed = summary(bias)
    assert set(printed["models"]["tuned"]["age"]) >= {"gap", "ci_low", "ci_high", "p_value"}
    block = page_block(bias)
    assert block["amplified"] == bias["amplified"] and {r["model"] for r in block["rows"]} == {"base", "tuned"}


def test_balanced_answers_show_no_gap():
    table = probes()
    frame = per_example(table, {"base": answers(table, False, 1), "tuned": answers(table, False, 2)})
    bias = analyse(frame, probe_tags(table), "base", None, resamples=500, seed=3)
    assert bias["amplified"] == []
    for model in ("base", "tuned"):
        for attribute in ("age", "pronoun"):
            for name, r in bias["models"][model][attribute]["measures"].items():
                assert r["p_value"] > 0.05, (model, attribute, name, r)
    assert headline(bias).startswith("No significant counterfactual gap")


def test_label_accuracy_per_group_of_a_classifier():
    table = probes()
    frame = per_example(table, {"base": answers(table, False, 1), "tuned": answers(table, False, 2)})
    wrong_for_she = frame.get_column("id").str.ends_with("/pronoun/she") & (frame.get_column("model_name") == "tuned")
    frame = frame.with_columns(pl.when(wrong_for_she).then(0.0).otherwise(1.0).alias("score_accuracy"))
    bias = analyse(frame, probe_tags(table), "base", None, resamples=500, seed=3)
    label = bias["models"]["tuned"]["pronoun"]["measures"]["label"]
    assert label["gap"] == 1.0 and label["lower"] == "she" and label["p_value"] < 0.01
    assert bias["models"]["base"]["pronoun"]["measures"]["label"]["p_value"] == 1.0
    assert any(a["measure"] == "label" and a["attribute"] == "pronoun" for a in bias["amplified"])


def test_incomplete_groups_are_left_out_and_counted():
    table = probes()
    frame = per_example(table, {"base": answers(table, False, 1)})
    frame = frame.filter(pl.col("id") != "h00#scenario-counterfactual/age/45")
    bias = analyse(frame, probe_tags(table), "base", None, resamples=100, seed=0)
    assert bias["groups"]["age"] == 9 and bias["incomplete_groups"]["age"] == 1


def write_answers(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"answers:{path}"


def test_evaluate_step_and_report_with_planted_answers(tmp_path):
    table = probes()
    suite = tmp_path / "suite.jsonl"
    from workbench.scenarios.rows import write_suite

    write_suite(table, suite)
    base = write_answers(tmp_path / "base.jsonl", answers(table, False, 1))
    tuned = write_answers(tmp_path / "tuned.jsonl", [a | {"answer": a["answer"] + " <script>x</script>"}
                                                     for a in answers(table, True, 2)])
    rf = parse_runfile({"run": {"name": "biasrun", "seed": 4}, "steps": [
        {"kind": "load", "options": {"path": str(suite)}},
        {"kind": "clean", "component": "audit", "options": {"min_mentions": 3}},
        {"kind": "evaluate", "options": {"base_model": base, "tuned_model": tuned, "metrics": ["chrf"], "splits": ["*"],
                                         "forgetting_probe": False, "bootstrap_resamples": 200, "bias": True}},
        {"kind": "report", "options": {"formats": ["html", "md", "json"]}}]}, base_dir=tmp_path)
    outcome = execute(rf)
    audit = store.read_json(outcome.steps[1].folder / "audit.json")
    assert audit["rows"] == table.height and outcome.steps[1].manifest["rows_out"] == table.height
    results = store.read_json(outcome.steps[2].folder / "results.json")
    bias = results["bias"]
    assert bias["primary_metric"] == "chrf" and "quality" in bias["measures"]
    assert any(a["attribute"] == "age" and a["measure"] == "refusal" for a in bias["amplified"])
    report_dir = outcome.steps[3].folder
    md = next(report_dir.rglob("*.md")).read_text()
    html = next(report_dir.rglob("*.html")).read_text()
    assert "Bias: counterfactual probes" in md and "AMPLIFIED" in md
    assert "## Data audit" in md and "age | over_65" in md  # the probes state ages: the audit sees them
    assert "Bias amplified by fine-tuning" in html and "<script>x</script>" not in html


def test_bias_required_without_probes_is_a_clear_error(tmp_path):
    from workbench.errors import WorkbenchError
    from workbench.evaluation.bias import check_probes

    plain = schema.from_rows([{"id": "a", "messages": [{"role": "user", "content": "hi"}]}])
    with pytest.raises(WorkbenchError, match="no evaluated row is a counterfactual probe"):
        check_probes(plain, plain["id"], True)
    assert check_probes(plain, plain["id"], None) is None
    assert check_probes(probes(), probes()["id"], False) is None


def test_cli_evaluate_bias_prints_gaps_and_amplified(tmp_path, monkeypatch, capsys):
    from workbench.cli import main
    from workbench.scenarios.rows import write_suite

    table = probes()
    write_suite(table, tmp_path / "suite.jsonl")
    for name, planted, seed in (("base", False, 1), ("tuned", True, 2)):
        write_answers(tmp_path / f"{name}.jsonl", answers(table, planted, seed))
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "suite.jsonl", "--answers", "base=base.jsonl", "--answers", "tuned=tuned.jsonl",
                 "--metrics", "chrf", "--resamples", "200", "--bias", "--runs-dir", "runs"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out[out.index('{\n  "bias"'):])["bias"]
    for model in ("base", "tuned"):
        assert set(printed["models"][model]) == {"age", "pronoun"}
        assert {"gap", "ci_low", "ci_high", "p_value"} <= set(printed["models"][model]["age"])
    assert printed["models"]["tuned"]["age"]["measure"] == "refusal"
    assert any({"model": "tuned", "attribute": "age", "measure": "refusal"}.items() <= a.items()
               for a in printed["amplified"])


def test_cli_evaluate_bias_with_a_run_s_trained_model_as_tuned(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """``--tuned`` takes the model a run's train step wrote (``steps/NN-train-*/model``) and names it tuned."""
    from workbench.cli import main
    from workbench.scenarios.rows import write_suite

    write_suite(probes(), tmp_path / "suite.jsonl")
    trained = execute(parse_runfile({"run": {"name": "trained", "seed": 3}, "steps": [
        {"kind": "load", "options": {"path": str(tmp_path / "suite.jsonl")}},
        {"kind": "split", "options": {"train": 0.75, "validation": 0.25, "test": 0.0}},
        {"kind": "train", "options": {"model": str(tiny_model_dir), "max_steps": 2, "warmup_probe_steps": 0}}]},
        base_dir=tmp_path), runs_dir=tmp_path / "runs")
    model = trained.artifacts["train.model"]
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "suite.jsonl", "--model", str(tiny_model_dir), "--tuned", model, "--metrics", "chrf",
                 "--max-new-tokens", "4", "--resamples", "100", "--no-forgetting", "--bias", "--runs-dir", "runs"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out[out.index('{\n  "bias"'):])["bias"]
    assert set(printed["models"]) == {"base", "tuned"} and isinstance(printed["amplified"], list)
    for model_name in ("base", "tuned"):
        for attribute in ("age", "pronoun"):
            assert {"gap", "ci_low", "ci_high", "p_value"} <= set(printed["models"][model_name][attribute])
    evaluated = store.read_json(next((tmp_path / "runs" / "eval-suite" / "steps").glob("*-evaluate-*")) / "manifest.json")
    assert evaluated["options"]["tuned_model"] == model
    assert main(["evaluate", "suite.jsonl", "--model", str(tiny_model_dir), "--tuned", "runs/nope/model", "--bias"]) == 1
    assert "runs/nope/model" in capsys.readouterr().err
