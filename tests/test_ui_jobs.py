"""Background runs: start `workbench run` in its own process, re-attach from files, cancel."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from workbench.runtime import store
from workbench.ui_support import jobs
from workbench.ui_support.pipeline import Pipeline


def test_a_background_run_finishes_and_is_read_back_from_its_folder(tmp_path, sample_dir):
    p = Pipeline(name="bg", base_dir=sample_dir, steps=[{"kind": "load", "options": {"path": "support.jsonl"}},
                                                       {"kind": "clean", "component": "whitespace"}])
    run_dir = jobs.start(p, tmp_path / "runs", secrets={"WORKBENCH_TEST_SECRET": "s3cret"})
    deadline = time.time() + 180
    while jobs.status(run_dir).alive and time.time() < deadline:
        time.sleep(0.5)
    s = jobs.status(run_dir)
    assert s.state == "finished", s.log_tail
    assert [step["name"] for step in s.steps] == ["01-load-load", "02-clean-whitespace"]
    assert (run_dir / "ui-run.toml").exists() and "s3cret" not in (run_dir / "ui-run.toml").read_text()
    assert "s3cret" not in json.dumps(jobs.read_job(run_dir))


def test_status_follows_progress_history_and_cancel(tmp_path):
    run_dir = tmp_path / "run"
    step = run_dir / "steps" / "03-train-hf-causal-lm.partial"
    step.mkdir(parents=True)
    # stands in for the job process; it must outlive the test however slow the machine (killed below)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)"])
    try:
        store.write_json(run_dir / "run.json", {"name": "run", "state": "running", "steps": []})
        store.write_json(run_dir / jobs.JOB_FILE, {"pid": sleeper.pid})
        snaps = [{"desc": "train", "n": n, "total": 10, "elapsed": n, "eta": 10 - n, "info": {"loss": 3.0 / n, "tok_s": 50.0}}
                 for n in (1, 2, 3)]
        (step / "progress.jsonl").write_text("".join(json.dumps(s) + "\n" for s in snaps) + '{"torn')
        store.write_json(step / "progress.json", snaps[-1])
        s = jobs.status(run_dir)
        assert s.alive and s.state == "running" and s.step == "03-train-hf-causal-lm"
        assert [r["loss"] for r in jobs.chart_rows(s.history)] == [3.0, 1.5, 1.0]
        assert jobs.eta_text(s.progress) == "train: 3/10 after 3 s, about 7 s left"
        jobs.cancel(run_dir)
        assert jobs.status(run_dir).cancelling and (run_dir / "CANCEL").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert jobs.status(run_dir).state == "lost"  # the process is gone but run.json still says running
