"""Experiments on a tiny model: shared-step reuse, the comparison, learning curve, report escaping, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.experiment.spec import parse_experiment
from workbench.runtime import store

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<script>alert(1)</script>|no typos"


def write_data(folder: Path) -> Path:
    rows = []
    for i in range(36):
        topic = ["refund", "shipping", "password"][i % 3]
        rows.append({"id": f"r{i}", "split": "test" if i >= 30 else None,
                     "messages": [{"role": "user", "content": f"Question {i} about my {topic}, please help"},
                                  {"role": "assistant", "content": f"Here is how the {topic} works: step {i % 4}."}]})
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def experiment_data(folder: Path, model: Path, *, train_steps: int = 2, variants=None) -> dict:
    write_data(folder)
    return {"run": {"name": "exp", "seed": 3}, "steps": [
        {"kind": "load", "options": {"path": "data.jsonl"}},
        {"kind": "clean", "component": "whitespace"},
        {"kind": "augment", "component": "typos"},
        {"kind": "split", "options": {"train": 0.8, "validation": 0.2, "test": 0.0, "stratify_by": None}},
        {"kind": "train", "options": {"model": str(model), "max_steps": train_steps, "batch_size": 4, "lora_r": 4,
                                      "learning_rate": 0.05,  # big steps: each variant's answers differ
                                      "warmup_probe_steps": 0, "checkpoint_every": 5, "threads": 1}},
        {"kind": "evaluate", "options": {"base_model": str(model), "metrics": ["chrf", "rouge_l"],
                                         "decode": {"max_new_tokens": 8}, "forgetting_probe": False,
                                         "include_scenarios": False, "bias": False, "bootstrap_resamples": 50,
                                         "ar_trials": 50}},
    ], "experiment": {"reference": "full"}, "variants": variants or [
        {"name": "full"}, {"name": "half", "data_fraction": 0.5}, {"name": "quarter", "data_fraction": 0.25},
        {"name": HOSTILE, "without": ["augment:typos"]}, {"name": "grid", "train": {"grid": {"lora_r": [2, 4]}}},
        {"name": "seeded", "seeds": [5, 6]}]}


def test_variants_share_steps_and_meet_in_one_comparison(tmp_path, tiny_model_dir):
    from workbench.experiment.compare import build_comparison
    from workbench.experiment.executor import experiment_dir, run_experiment
    from workbench.experiment.report import write_experiment_report

    exp = parse_experiment(experiment_data(tmp_path, tiny_model_dir), base_dir=tmp_path)
    outcomes = {o.run.label: o for o in run_experiment(exp)}
    assert outcomes["full"].reused_steps == [] and outcomes["full"].linked_steps == []
    shared = ["01-load-load", "02-clean-whitespace", "03-augment-typos", "04-split-split"]
    assert outcomes["half"].linked_steps == shared and outcomes["half"].reused_steps == shared
    assert outcomes["quarter"].reused_steps == shared  # the longest shared prefix, here from full or half
    assert outcomes["grid"].reused_steps == shared
    assert outcomes["seeded (seed 6)"].reused_steps == shared  # a seed changes the training only
    assert outcomes[HOSTILE].reused_steps == shared[:2]  # without the augmenter the table differs from step 3 on
    rows = {n: o.train_rows for n, o in outcomes.items()}
    assert rows["quarter"] < rows["half"] < rows["full"]
    # nested: the quarter's training rows are all in the half's
    import polars as pl

    def train_ids(name):
        step = store.step_dirs(outcomes[name].run_dir)[4]
        return set(store.load_output(step).filter(pl.col("split") == "train")["id"])
    assert train_ids("quarter") < train_ids("half") < train_ids("full")

    c = build_comparison(exp, resamples=50, trials=50)
    assert [v["label"] for v in c["variants"]] == ["full", "half", "quarter", HOSTILE, "grid", "seeded (seed 5)",
                                                   "seeded (seed 6)"]
    trials = ["grid / trial:01-lora_r=2", "grid / trial:02-lora_r=4"]
    assert c["vs_reference"]["columns"][-5:-2] == ["grid", *trials]  # each grid trial is a column of its own
    spread = c["seeds"]["seeded"]["chrf"]
    seeded = [v["scores"]["chrf"] for v in c["variants"] if v["name"] == "seeded"]
    assert spread["n"] == 2 and spread["mean"] == pytest.approx(sum(seeded) / 2) and spread["min"] == min(seeded)
    assert spread["vs_reference"]["n_paired"] == 12  # the two seeds' six rows, each paired with the reference's
    assert spread["vs_base"]["p_value"] <= spread["vs_base"]["p_holm"] <= 1  # Holm over the 2 metrics' means
    half = next(v for v in c["variants"] if v["name"] == "half")
    assert set(half["scores"]) == {"chrf", "rouge_l"} and half["train_rows"] == rows["half"]
    chrf = half["vs_reference"]["chrf"]
    assert chrf["ci_low"] <= chrf["difference"] <= chrf["ci_high"] and chrf["difference"] != 0
    assert 0 < chrf["p_value"] < chrf["p_holm"] <= 1  # 16 tests in the family: Holm raises the p-value
    assert half["vs_base"]["chrf"]["n_paired"] == 6  # the same six held-out rows for every model
    assert "chrf" not in next(v for v in c["variants"] if v["name"] == "full")["vs_reference"]  # the reference itself
    assert c["holm"] == {"vs_base": 18, "vs_reference": 16}  # 9 models (8 other than the reference) x 2 metrics
    (curve,) = c["learning_curves"]
    assert [p["fraction"] for p in curve["points"]] == [0.25, 0.5, 1.0]
    assert [p["train_rows"] for p in curve["points"]] == [rows["quarter"], rows["half"], rows["full"]]
    assert len(curve["steps"]) == 2 and curve["reading"].startswith("from 25% to 50% of the data (")

    paths = write_experiment_report(c, experiment_dir(exp))
    html, md = paths["html"].read_text(), paths["md"].read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in md and "&lt;script>" in md and "\\|no typos" in md
    assert "<polygon" in html and "Learning curve: chrf" in html and "Holm" in html
    assert json.loads(paths["json"].read_text())["variants"][3]["name"] == HOSTILE
    assert "Spread across seeds" in html and "tested as one" in html

    # each variant's own run report says where it stands in the experiment
    from workbench.report.build import build_report
    from workbench.report.render import write_report

    written = write_report(build_report(outcomes[HOSTILE].run_dir), tmp_path / "run-report")
    html = written["html"].read_text()
    assert "<h2>Experiment</h2>" in html and "This run is the variant &lt;script&gt;alert(1)" in html
    assert "<script>alert(1)" not in html and "Holm p" in html


def test_with_seeds_a_curve_point_is_the_mean_across_seeds_and_each_run_has_its_ship_verdict(tmp_path, tiny_model_dir):
    from workbench.experiment.compare import build_comparison
    from workbench.experiment.executor import run_experiment
    from workbench.experiment.report import write_experiment_report

    data = experiment_data(tmp_path, tiny_model_dir, variants=[
        {"name": "full", "seeds": [5, 6]}, {"name": "half", "data_fraction": 0.5, "seeds": [5, 6]}])
    data["steps"][-1]["options"]["metrics"] = ["chrf", "facts"]
    rows = [json.loads(line) for line in (tmp_path / "data.jsonl").read_text().splitlines()]
    for i, r in enumerate(rows):  # answers that state a checkable fact, so the facts check applies
        r["messages"][1]["content"] = f"Your {['refund', 'parcel', 'reset'][i % 3]} takes {2 + i % 4} days."
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    exp = parse_experiment(data, base_dir=tmp_path)
    run_experiment(exp)

    c = build_comparison(exp, resamples=50, trials=50)
    assert all("facts" in v["scores"] for v in c["variants"])  # the facts check is a metric of the comparison
    for v in c["variants"]:  # the tuned model's ship verdict, led by the facts check
        assert v["verdict"]["status"] in ("pass", "warn", "fail")
        assert v["verdict"]["headline"].split(": ", 1)[1].startswith("answers with every fact right: ")
    (curve,) = c["learning_curves"]
    assert [p["label"] for p in curve["points"]] == ["half", "full"]  # one point per variant, not per seed
    for point in curve["points"]:
        runs = [v for v in c["variants"] if v["name"] == point["label"]]
        scores = [v["scores"]["chrf"] for v in runs]
        assert point["score"] == pytest.approx(sum(scores) / 2) and point["spread"]["n"] == 2
        assert point["spread"]["min"] == min(scores) and point["spread"]["max"] == max(scores)
        cells = [c["vs_base"]["rows"][0]["cells"][v["label"]]["ci"] for v in runs]
        assert point["ci"] == [min(ci[0] for ci in cells), max(ci[1] for ci in cells)]  # spans the seeds' intervals
    (step,) = curve["steps"]
    assert step["n_paired"] == 12  # seed 5 with seed 5, seed 6 with seed 6: six held-out rows each
    assert step["ci_low"] <= step["difference"] <= step["ci_high"]
    assert curve["reading"].startswith("from 50% to 100% of the data (")
    assert c["seeds"]["half"]["chrf"]["vs_reference"]["n_paired"] == 12
    html = write_experiment_report(c, tmp_path / "report")["html"].read_text()
    assert "mean of 2: sd" in html and "answers with every fact right" in html


@pytest.mark.slow  # a subprocess trains on a tiny model until its first checkpoint: about a minute
def test_killed_experiment_finishes_only_the_remaining_variants(tmp_path, tiny_model_dir, capsys):
    from workbench.runtime.runfile import dumps_toml

    data = experiment_data(tmp_path, tiny_model_dir, train_steps=60,
                           variants=[{"name": "lora"}, {"name": "head", "train": {"method": "head"}}])
    data["steps"][4]["options"]["max_steps"] = 3  # the first variant is quick ...
    data["variants"][1]["train"]["max_steps"] = 60  # ... the second is killed while training
    data.pop("experiment")  # the reference is the first variant
    (tmp_path / "exp.toml").write_text(dumps_toml(data))
    runs = tmp_path / "runs"
    log = tmp_path / "log.txt"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "experiment", str(tmp_path / "exp.toml"),
                                 "--runs-dir", str(runs), "--json"], cwd=ROOT, stdout=out, stderr=out,
                                start_new_session=True)
    partial = runs / "exp--head" / "steps" / "05-train-hf-causal-lm.partial"
    deadline = time.time() + 240
    while not (partial / "checkpoints").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, log.read_text()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    state = store.read_json(runs / "exp" / "experiment.json")
    assert [r["state"] for r in state["runs"]] == ["finished", "running"]

    from workbench.cli import main

    assert main(["experiment", str(tmp_path / "exp.toml"), "--runs-dir", str(runs), "--json", "--resamples", "50"]) == 0
    printed = json.loads(capsys.readouterr().out)
    lora, head = printed["variants"]
    assert set(lora) >= {"name", "train_rows", "seconds", "scores", "vs_reference", "reused_steps"}
    assert len(lora["reused_steps"]) == 6  # finished before the kill: nothing re-runs
    assert head["reused_steps"] == ["01-load-load", "02-clean-whitespace", "03-augment-typos", "04-split-split"]
    assert set(head["vs_reference"]["chrf"]) >= {"difference", "ci_low", "ci_high", "p_value"}
    assert set(head["scores"]) == {"chrf", "rouge_l"} and head["train_rows"] == lora["train_rows"] > 0
    assert store.read_json(runs / "exp" / "experiment.json")["state"] == "finished"
    assert Path(printed["report"]["html"]).exists() and printed["seeds"] == {}  # no variant has seeds


def test_a_cancel_file_stops_the_experiment_before_the_next_variant(tmp_path):
    from workbench.experiment.executor import run_experiment

    exp = parse_experiment({"run": {"name": "c"}, "steps": [{"kind": "load", "options": {"path": str(write_data(tmp_path))}}],
                            "variants": [{"name": "a"}, {"name": "b"}]})
    (store.runs_root() / "c").mkdir(parents=True)
    (store.runs_root() / "c" / "CANCEL").write_text("cancelled from the UI\n")
    with pytest.raises(KeyboardInterrupt, match="cancelled before a"):
        run_experiment(exp)
    assert store.read_json(store.runs_root() / "c" / "experiment.json")["state"] == "cancelled"


def test_preflight_estimates_every_run_and_keeps_the_data_steps(tmp_path, tiny_model_dir):
    from workbench.experiment.preflight import experiment_preflight

    data = experiment_data(tmp_path, tiny_model_dir, variants=[
        {"name": "full"}, {"name": "half", "data_fraction": 0.5}, {"name": "head", "train": {"method": "head"}}])
    data["steps"][4]["options"] |= {"max_steps": 0, "epochs": 1, "warmup_probe_steps": 1}
    exp = parse_experiment(data, base_dir=tmp_path)
    figures = experiment_preflight(exp)
    full, half, head = figures["runs"]
    assert half["train_rows"] < full["train_rows"] == head["train_rows"]
    assert half["optimizer_steps"] < full["optimizer_steps"] and full["tuned_answers"] == 6
    assert all(r["expected_seconds"] > 0 for r in figures["runs"]) and figures["unmeasured"] == []
    assert figures["training_seconds"] == pytest.approx(sum(r["expected_seconds"] for r in figures["runs"]), abs=0.2)
    # the data steps ran in each run's own folder: the experiment reuses them
    assert [p.name for p in store.step_dirs(store.runs_root() / "exp--half")][-1] == "05-subsample-subsample"
