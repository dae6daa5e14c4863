"""AppTest of the Experiments page: variants from forms, the file, pre-flight, a background run, the comparison."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.runtime import store
from workbench.ui_support import experiments, keys, tasks
from workbench.ui_support.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "experiments.py")
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_variants_preflight_run_and_comparison(tmp_path, tiny_model_dir):
    from test_experiment_run import experiment_data

    data = experiment_data(tmp_path, tiny_model_dir)
    steps = [s for s in data["steps"] if s.get("component") != "typos"]
    steps[3]["options"]["warmup_probe_steps"] = 1  # the pre-flight measures a step
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[keys.RUNS_DIR] = str(tmp_path / "runs")
    at.session_state[keys.PIPELINE] = Pipeline(name="pageexp", steps=steps, base_dir=tmp_path)
    at.run()
    assert not at.exception and "No variants yet" in at.info[0].value

    at.text_input(key="experiment_name").input("lora").run()
    at.button(key="experiment_add").click().run()
    at.text_input(key="experiment_name").input(HOSTILE).run()
    at.radio(key="experiment_change").set_value("data fraction").run()
    at.number_input(key="experiment_fraction").set_value(0.5).run()
    at.button(key="experiment_add").click().run()
    at.text_input(key="experiment_name").input("r2").run()
    at.radio(key="experiment_change").set_value("options of a step").run()
    at.selectbox(key="experiment_step").set_value("train:hf-causal-lm").run()
    at.number_input(key="experiment_train:hf-causal-lm_lora_r").set_value(2).run()
    at.button(key="experiment_add").click().run()
    assert not at.exception
    assert at.session_state[keys.EXPERIMENT_VARIANTS] == [
        {"name": "lora"}, {"name": HOSTILE, "data_fraction": 0.5}, {"name": "r2", "train:hf-causal-lm": {"lora_r": 2}}]
    assert "data_fraction = 0.5" in at.code[0].value and 'reference = "lora"' in at.code[0].value

    at.button(key="experiment_preflight").click().run()
    tasks.get(at.session_state[keys.EXPERIMENT_PREFLIGHT_TASK]).thread.join(300)
    at.run()
    assert not at.exception
    figures = at.session_state["experiment_preflight_result"]
    assert [r["label"] for r in figures["runs"]] == ["lora", HOSTILE, "r2"] and figures["training_seconds"] > 0

    assert "experiment: not started" in [c.value for c in at.caption]
    at.button(key="experiment_start").click().run()
    exp_dir = tmp_path / "runs" / "pageexp"
    deadline = time.time() + 400
    while time.time() < deadline and experiments.progress(exp_dir, tmp_path / "runs")["alive"]:
        time.sleep(1)
    assert (exp_dir / "report.json").exists(), (exp_dir / "job.log").read_text()[-2000:]
    at.run()
    assert not at.exception
    assert store.read_json(exp_dir / "experiment.json")["state"] == "finished"
    assert [c.value for c in at.caption if c.value.startswith("experiment:")] == ["experiment: finished"]
    assert any("Learning curve (chrf)" in m.value for m in at.markdown)
    tables = [set(d.value["variant"]) for d in at.dataframe if "p_holm" in d.value.columns]
    assert tables == [{HOSTILE, "r2"}, {"lora", HOSTILE, "r2"}]  # against the reference, against the base model
    (runs_table,) = [d.value for d in at.dataframe if "ship verdict" in d.value.columns]
    assert list(runs_table["variant"]) == ["lora", HOSTILE, "r2"]
    assert set(runs_table["ship verdict"]) <= {"pass", "warn", "fail"}  # each tuned model's verdict (verdict.py)


def test_an_interrupted_experiment_shows_its_runs_and_offers_resume(tmp_path):
    runs = tmp_path / "runs"
    exp_dir = runs / "pageexp"
    (runs / "pageexp--b" / "steps").mkdir(parents=True)
    (exp_dir).mkdir(parents=True)
    store.write_json(exp_dir / "experiment.json", {"name": "pageexp", "state": "running", "runs": [
        {"label": "a", "run": "pageexp--a", "state": "finished"}, {"label": "b", "run": "pageexp--b", "state": "running"}]})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.write_json(exp_dir / "job.json", {"pid": dead.pid, "started": time.time()})
    state = experiments.progress(exp_dir, runs)
    assert state["state"] == "stopped" and not state["alive"]
    assert [r["state"] for r in state["runs"]] == ["finished", "interrupted"]
    experiments.cancel(exp_dir, runs)  # asks the running step and the experiment to stop
    assert (exp_dir / "CANCEL").exists() and (runs / "pageexp--b" / "CANCEL").exists()
    assert not (runs / "pageexp--a" / "CANCEL").exists()

    data = tmp_path / "data.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n')
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.session_state[keys.PIPELINE] = Pipeline(name="pageexp", steps=[{"kind": "load", "options": {"path": str(data)}}])
    at.session_state[keys.EXPERIMENT_VARIANTS] = [{"name": "a"}, {"name": "b"}]
    at.run()
    assert not at.exception
    assert at.button(key="experiment_start").label == "Resume"
    assert "experiment: stopped" in [c.value for c in at.caption]
