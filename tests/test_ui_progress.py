"""In-process tasks and the progress panel: elapsed time, progress and ETA from the progress files, Cancel."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.errors import Cancelled
from workbench.ui_support import jobs, tasks

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def _counting(ctx, steps: int = 400):
    """Counts slowly, reporting progress and stopping when asked to."""
    with ctx.progress(steps, "counting") as bar:
        for _ in range(steps):
            if ctx.cancelled():
                raise Cancelled()
            time.sleep(0.05)
            bar.update(1)
    return steps


def _wait(predicate, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_task_reports_progress_and_result(tmp_path):
    task_id = tasks.start(lambda ctx: _counting(ctx, 12), "counting", root=tmp_path)
    _wait(lambda: not tasks.get(task_id).running)
    v = tasks.view(task_id)
    assert (v.state, v.n, v.total, tasks.get(task_id).result) == ("finished", 12, 12, 12)
    assert v.fraction == 1.0 and "elapsed" in v.text()
    tasks.discard(task_id)
    assert tasks.get(task_id) is None and not list(tmp_path.iterdir())


def test_task_error_and_cancel(tmp_path):
    def broken(ctx):
        raise ValueError("the model folder has no config.json")

    failed = tasks.start(broken, "pre-flight", root=tmp_path)
    _wait(lambda: not tasks.get(failed).running)
    assert tasks.view(failed).state == "failed" and "config.json" in tasks.view(failed).error
    slow = tasks.start(_counting, "counting", root=tmp_path)
    _wait(lambda: (tasks.view(slow).n or 0) > 0)
    tasks.cancel(slow)
    _wait(lambda: not tasks.get(slow).running)
    assert tasks.view(slow).state == "cancelled" and tasks.view(slow).error is None


def _panel_page():
    import streamlit as st

    from pages import common
    from workbench.ui_support import tasks as t

    if "task" not in st.session_state:
        st.session_state["task"] = t.start(st.session_state["work"], "counting")
    common.progress_panel("probe", task=st.session_state["task"])


def test_panel_shows_progress_and_cancels():
    at = AppTest.from_function(_panel_page, default_timeout=30)
    at.session_state["work"] = _counting
    at.run()
    task_id = at.session_state["task"]
    _wait(lambda: (tasks.view(task_id).n or 0) >= 2)
    at.run()
    assert not at.exception
    shown = at.get("progress")[0].proto.text
    assert "counting: running" in shown and "elapsed" in shown and "left" in shown
    at.button(key="probe_cancel").click().run()
    _wait(lambda: not tasks.get(task_id).running)
    at.run()
    assert not at.exception and tasks.view(task_id).state == "cancelled"
    assert "cancelled" in at.get("progress")[0].proto.text
    tasks.discard(task_id)


def test_run_view_reads_a_background_run(tmp_path):
    run_dir = tmp_path / "run"
    step = run_dir / "steps" / "03-evaluate-evaluate.partial"
    step.mkdir(parents=True)
    from workbench.runtime import store

    store.write_json(run_dir / jobs.JOB_FILE, {"pid": 2**22 + 7, "started": time.time() - 30})
    store.write_json(run_dir / "run.json", {"state": "failed", "error": "out of memory", "steps": []})
    store.write_json(step / "progress.json", {"n": 5, "total": 10, "eta": 30.0})
    v = tasks.run_view(run_dir, "evaluation")
    assert (v.state, v.n, v.total, v.error) == ("failed", 5, 10, "out of memory")
    assert v.elapsed >= 0 and tasks.run_view(tmp_path / "nothing") is None


def test_preflight_runs_as_a_task(tmp_path, tiny_model_dir, sample_dir):
    """The Train page's pre-flight as a task: it finishes with the trainer's figures, followed through the panel."""
    from workbench.io.loader import load_table
    from workbench.training import planning as training

    table = load_table(sample_dir / "support.jsonl").table.head(16)
    options = {"model": str(tiny_model_dir), "method": "lora", "max_steps": 2, "batch_size": 4}
    task_id = tasks.start(lambda ctx: training.local_preflight(table, options, ctx), "pre-flight", root=tmp_path)
    _wait(lambda: not tasks.get(task_id).running, 240)
    v, figures = tasks.view(task_id), tasks.get(task_id).result
    assert v.state == "finished", v.error
    assert figures["examples"] == 16 and figures["optimizer_steps"] == 2
    tasks.discard(task_id)
