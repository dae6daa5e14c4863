"""AppTest of the Runs page: history, steps, open a CLI run, compare two runs by settings, metrics and loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.runtime import store
from workbench.ui_support import keys, runs
from workbench.ui_support.pipeline import Pipeline, execute

ROOT = Path(__file__).resolve().parent.parent
LOAD = {"kind": "load", "options": {"path": "support.jsonl"}}


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def _frame(at: AppTest, column: str):
    """The shown table that has ``column`` (AppTest does not expose a dataframe's key)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _finished_extras(run_dir: Path, chrf: float, losses: list[float]) -> None:
    """A training history and an evaluation, as the train and evaluate steps leave them (no model needed)."""
    train = run_dir / "steps" / "08-train-hf-causal-lm"
    train.mkdir(parents=True)
    store.write_json(train / "manifest.json", {"index": 8, "kind": "train", "component": "hf-causal-lm",
                                               "options": {"epochs": 1, "learning_rate": 2e-4}, "seed": 0})
    (train / "history.json").write_text(json.dumps(
        [{"step": i + 1, "loss": loss, **({"val_loss": loss + 0.1} if i % 2 else {})} for i, loss in enumerate(losses)]))
    evaluate = run_dir / "steps" / "09-evaluate-evaluate"
    evaluate.mkdir(parents=True)
    store.write_json(evaluate / "manifest.json", {"index": 9, "kind": "evaluate", "component": "evaluate", "options": {}})
    store.write_json(evaluate / "results.json", {"base": "base", "comparisons": {"tuned": {}}, "scores": {
        "base": {"chrf": {"score": 30.0}}, "tuned": {"chrf": {"score": chrf}, "latency": {"score": 0.4, "higher_is_better": False}}}})


def test_history_open_and_compare(tmp_path, sample_dir):
    root = tmp_path / "runs"
    execute(Pipeline(name="plain", base_dir=sample_dir, steps=[LOAD]), root)
    execute(Pipeline(name="deduped", base_dir=sample_dir, steps=[LOAD, {"kind": "clean", "component": "exact-dedup"}]), root)
    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(root)
    at.run()
    assert not at.exception
    history = at.dataframe[0].value
    assert set(history["name"]) == {"plain", "deduped"}
    at.selectbox(key="runs_pick").set_value(str(root / "deduped")).run()
    at.button(key="runs_open").click().run()
    assert not at.exception and "Opened deduped" in at.success[0].value
    assert at.session_state[keys.PIPELINE].steps[1]["component"] == "exact-dedup"
    assert at.session_state[keys.TABLE_PATH].endswith("02-clean-exact-dedup/output.parquet")
    at.selectbox(key="runs_a").set_value(str(root / "plain"))
    at.selectbox(key="runs_b").set_value(str(root / "deduped")).run()
    assert "rows_out_diff" in _frame(at, "rows_out_diff").columns
    settings = _frame(at, "setting")
    assert settings.iloc[0].to_dict() == {"step": "clean exact-dedup", "setting": "(the whole step)", "run_a": "—",
                                          "run_b": "ran"}


def test_compare_settings_metrics_and_loss_curves(tmp_path, sample_dir):
    root = tmp_path / "runs"
    near = {"kind": "clean", "component": "near-dedup"}
    a = execute(Pipeline(name="default", base_dir=sample_dir, steps=[LOAD, near]), root)
    b = execute(Pipeline(name="stricter", base_dir=sample_dir, steps=[LOAD, near | {"options": {"threshold": 0.9}}]), root)
    _finished_extras(a, chrf=48.0, losses=[2.0, 1.5, 1.2, 1.0])
    _finished_extras(b, chrf=51.5, losses=[2.1, 1.4, 1.1, 0.9])
    diff = runs.settings_diff(a, b)
    assert diff.rows() == [("clean near-dedup", "threshold", "0.7", "0.9")]  # the default shows as its value
    assert '+options = { threshold = 0.9 }' in runs.runfile_diff(a, b).replace('"', "")
    curves = runs.loss_curves(a, b)
    assert curves.filter(curves["curve"] == "train").height == 8 and curves.filter(curves["curve"] == "validation").height == 4

    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(root)
    at.run()
    at.selectbox(key="runs_a").set_value(str(a))
    at.selectbox(key="runs_b").set_value(str(b)).run()
    assert not at.exception
    assert _frame(at, "setting").iloc[0]["setting"] == "threshold"
    assert "threshold = 0.9" in at.code[-1].value.replace('"', "")
    deltas = _frame(at, "b_minus_a").set_index("metric")
    assert deltas.loc["chrf", "b_minus_a"] == pytest.approx(3.5) and deltas.loc["latency", "direction"] == "lower is better"
    charts = at.get("vega_lite_chart")
    assert charts and '"strokeDash"' in charts[-1].proto.spec  # the loss curves, train and validation per run


def test_a_shorter_pipeline_shows_its_own_last_step(tmp_path, sample_dir):
    """Re-running a run folder with fewer steps (the curated dataset after review) leaves the earlier run's later
    step folders until the next full run replaces them; the pages must not browse those (they vanish)."""
    from workbench.ui_support.pipeline import latest_output

    root = tmp_path / "runs"
    execute(Pipeline(name="same", base_dir=sample_dir, steps=[LOAD, {"kind": "clean", "component": "exact-dedup"}]), root)
    run_dir = execute(Pipeline(name="same", base_dir=sample_dir, steps=[LOAD]), root)
    assert latest_output(run_dir).parent.name == "02-clean-exact-dedup"  # left over from the longer pipeline
    assert latest_output(run_dir, 1).parent.name == "01-load-load"
