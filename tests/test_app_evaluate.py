"""AppTest of the Evaluate page on a run folder with results: metrics with CIs, answers side by side, blind votes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from workbench import store
from workbench.evaluation.votes import load_votes
from workbench.ui_support import evaluation, keys

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def _evaluated_run(runs: Path, name: str) -> Path:
    run_dir = runs / name
    step = run_dir / "steps" / "02-evaluate-evaluate"
    step.mkdir(parents=True)
    store.write_text(run_dir / "run.toml", f'[run]\nname = "{name}"\n\n[[steps]]\nkind = "load"\n'
                                           'options = { path = "x.jsonl" }\n\n[[steps]]\nkind = "evaluate"\n')
    store.write_json(run_dir / "run.json", {"name": name, "state": "finished", "updated": "2026-01-01", "steps": []})
    store.write_json(step / "manifest.json", {"index": 2, "name": step.name, "kind": "evaluate", "component": "evaluate",
                                              "artifacts": {"results": "results.json"}, "rows_in": 2,
                                              "rows_out": 2, "added": 0, "dropped": 0, "changed": 0})
    chrf = {"base": 30.0, "other": 55.0, "difference": 25.0, "ci_low": 12.0, "ci_high": 38.0, "p_value": 0.002,
            "method": "paired approximate randomisation"}
    store.write_json(step / "results.json", {
        "base": "base", "models": {"base": "smollm2", "tuned": "model"}, "n_examples": 2, "primary_metric": "chrf",
        "generation": {"base": {"generated": 2, "cached": 0}, "tuned": {"generated": 2, "cached": 0}},
        "decode": {"max_new_tokens": 64}, "seed": 0, "bootstrap_resamples": 1000, "ar_trials": 1000, "top_examples": {},
        "scores": {"base": {"chrf": {"score": 30.0}}, "tuned": {"chrf": {"score": 55.0}}},
        "comparisons": {"tuned": {"chrf": chrf}},
        "slices": {"tuned": {"label": [{"value": "refund", "n": 2, "base": 30.0, "other": 55.0, "difference": 25.0}]}}})
    prompt = json.dumps([{"role": "user", "content": "Where is my parcel?"}])
    store.write_parquet(step / "examples.parquet", pl.DataFrame({
        "id": ["e1", "e2", "e1", "e2"], "prompt": [prompt] * 4, "reference": ["It ships today."] * 4,
        "prediction": ["No idea.", "Hmm.", "It ships today.", "It ships today, sorry."],
        "model_name": ["base", "base", "tuned", "tuned"]}))
    return run_dir


def test_metrics_answers_and_blind_votes(tmp_path):
    runs = tmp_path / "runs"
    run_dir = _evaluated_run(runs, "evaluated")
    _evaluated_run(runs, "other")
    at = AppTest.from_file(str(ROOT / "pages" / "evaluate.py"), default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.session_state[keys.RUN_DIR] = str(run_dir)
    at.run()
    assert not at.exception
    metrics = at.dataframe[0].value
    row = metrics.iloc[0]
    assert (row["metric"], row["ci_low"], row["ci_high"], row["p_value"]) == ("chrf", 12.0, 38.0, 0.002)
    assert any(":green[" in m.value for m in at.markdown)  # word diff of the side-by-side answers
    at.button(key="eval_vote_left").click().run()
    at.button(key="eval_vote_tie").click().run()
    assert not at.exception
    votes = load_votes(run_dir)
    assert len(votes) == 2 and "tie" in {v["winner"] for v in votes}
    assert at.session_state["eval_vote_index"] == 2
    assert len(at.get("download_button")) == 3  # the report as HTML, Markdown and JSON
    results, _ = evaluation.load_results(evaluation.evaluate_step(run_dir))
    files = evaluation.report_files(run_dir, results)
    assert "## Human preference votes" in files["md"] and "Human preference votes" in files["html"]
    assert json.loads(files["json"])["votes"]["n"] == 2
