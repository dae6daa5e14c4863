"""AppTest of the Train page: trainer forms, pre-flight, re-attach to a running job, live charts, cancel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.runtime import store
from workbench.ui_support import data, jobs, keys, tasks
from workbench.ui_support.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "train.py")


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def _train_page(tmp_path: Path, sample_dir: Path) -> AppTest:
    """The Train page run once with the sample data opened."""
    runs = tmp_path / "runs"
    opened = data.open_file(sample_dir / "support.jsonl", runs)
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.session_state[keys.TABLE_PATH] = str(opened.table_path)
    at.session_state[keys.PIPELINE] = Pipeline(steps=[{"kind": "load", "options": {"path": str(opened.source)}}])
    at.run()
    return at


def test_forms_estimate_and_session_only_api_key(tmp_path, sample_dir, tiny_model_dir, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    at = _train_page(tmp_path, sample_dir)
    assert not at.exception
    at.text_input(key="train_hf-causal-lm_model").input(str(tiny_model_dir))
    at.number_input(key="train_hf-causal-lm_max_steps").set_value(3)
    at.button(key="train_estimate").click().run()
    assert not at.exception
    task = tasks.get(at.session_state[keys.PREFLIGHT_TASK])
    assert "pre-flight: running" in " ".join(c.value for c in at.caption) + " ".join(
        p.proto.text for p in at.get("progress")), "the pre-flight shows its progress while it runs"
    task.thread.join(300)
    at.run()  # what the progress panel triggers when the task ends
    assert not at.exception and keys.PREFLIGHT_TASK not in at.session_state
    tiles = {m.label: m.value for m in at.metric}  # the trainer's own pre-flight: measured, not guessed
    assert tiles["optimiser steps"] == "3" and tiles["tokens per epoch"] != "—"
    assert tiles["memory"].endswith("GiB") and tiles["expected time"] != "not measured"
    at.radio(key="train_trainer").set_value("openai").run()
    at.text_input(key="train_api_key").input("sk-test-session-only").run()
    at.button(key="train_estimate").click().run()
    assert not at.exception and "billed tokens" in at.info[0].value
    assert at.session_state["train_api_key"] == "sk-test-session-only"  # this session's state, no process global
    assert "OPENAI_API_KEY" not in os.environ  # not put where other sessions of this server would find it
    assert "sk-test" not in json.dumps(at.session_state[keys.PIPELINE].steps)


def test_reattaches_to_a_running_job_and_cancels_it(tmp_path):
    runs = tmp_path / "runs"
    run_dir = runs / "live"
    step = run_dir / "steps" / "02-train-hf-causal-lm.partial"
    step.mkdir(parents=True)
    # stands in for the job process; it must outlive the test however slow the machine (killed below)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)"])
    try:
        store.write_json(run_dir / "run.json", {"name": "live", "state": "running", "steps": []})
        store.write_json(run_dir / jobs.JOB_FILE, {"pid": sleeper.pid})
        snaps = [{"desc": "train", "n": n, "total": 8, "elapsed": n, "eta": 8 - n,
                  "info": {"loss": 4.0 / n, "tok_s": 40.0 + n}} for n in (1, 2)]
        (step / "progress.jsonl").write_text("".join(json.dumps(s) + "\n" for s in snaps))
        store.write_json(step / "progress.json", snaps[-1])
        at = AppTest.from_file(PAGE, default_timeout=60)
        at.session_state[keys.RUNS_DIR] = str(runs)
        at.run()
        assert not at.exception
        assert at.session_state[keys.JOB_RUN_DIR] == str(run_dir)
        assert "live: running" in at.subheader[0].value
        assert len(at.get("vega_lite_chart")) == 2  # loss and throughput
        at.button(key="train_cancel").click().run()
        assert (run_dir / "CANCEL").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_grouped_form_hides_what_does_not_apply_and_shows_errors_at_the_field(tmp_path, sample_dir):
    at = _train_page(tmp_path, sample_dir)
    assert not at.exception
    prefix = "train_hf-causal-lm_"
    assert [t.label for t in at.tabs] == ["Basic", "LoRA", "Optimisation", "Evaluation and early stopping",
                                          "Checkpoints"]
    assert at.tabs[1].number_input(key=f"{prefix}lora_r").value == 16
    rate = at.select_slider(key=f"{prefix}learning_rate")
    assert rate.value == 5e-4 and all(float(v) > 0 for v in rate.options), "a rate cannot be stepped to zero or below"
    assert not [w for w in at.number_input if w.key == f"{prefix}step_every"], "step scheduler fields only for step"
    at.selectbox(key=f"{prefix}scheduler").set_value("step").run()
    assert at.number_input(key=f"{prefix}step_every").value == 50
    at.selectbox(key=f"{prefix}method").set_value("full").run()
    assert "LoRA" not in [t.label for t in at.tabs]
    assert not [w for w in at.number_input if w.key == f"{prefix}lora_r"], "LoRA fields only for method lora"
    assert not [w for w in at.text_input if w.key == f"{prefix}threads"] and f"{prefix}threads" not in at.session_state
    at.toggle(key=f"{prefix}_show_advanced").set_value(True).run()
    assert at.number_input(key=f"{prefix}threads").value == 0 and "Advanced" in [t.label for t in at.tabs]
    assert not [a for a in at.text_area if a.label.startswith("grid")], "grid is a key-value editor, not raw JSON"
    at.text_input(key=f"{prefix}epochs").input("three").run()
    assert not at.exception
    basic = at.tabs[0]
    assert "valid number" in basic.error[0].value, "the error is shown in the tab of the field, next to it"
    assert "highlighted" not in " ".join(e.value for e in at.error)
    assert at.button(key="train_estimate").disabled, "the pre-flight button stays, disabled until the form is valid"
    at.text_input(key=f"{prefix}epochs").input("2").run()
    assert not at.error and not at.button(key="train_estimate").disabled


def test_a_preflight_that_cannot_load_the_model_says_why_and_shows_rough_figures(tmp_path, sample_dir):
    at = _train_page(tmp_path, sample_dir)
    at.text_input(key="train_hf-causal-lm_model").input(str(tmp_path / "no-such-model"))
    at.button(key="train_estimate").click().run()
    tasks.get(at.session_state[keys.PREFLIGHT_TASK]).thread.join(120)
    at.run()
    assert not at.exception
    assert "the pre-flight could not run" in at.error[0].value and "no-such-model" in at.error[0].value
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["examples"] == "368" and tiles["expected time"] == "not measured"
    assert not at.button(key="train_estimate").disabled and not at.button(key="train_start").disabled
