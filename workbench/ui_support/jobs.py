"""Background runs: ``workbench run`` in its own process, followed through files.

Training outlives a page: :func:`start` saves the pipeline as a run file in
the run folder and starts ``python -m workbench run`` in a new session (so a
page reload, a browser disconnect or a Streamlit restart leaves it running).
Secrets reach the process through its environment only, never a file.
:func:`status` re-attaches from nothing but the run folder: ``run.json``
(state, finished steps), ``job.json`` (pid, log) and the running step's
``progress.json`` / ``progress.jsonl``; :func:`cancel` writes the ``CANCEL``
file the step checks through ``ctx.cancelled()``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.runtime import store
from workbench.ui_support.pipeline import Pipeline

JOB_FILE = "job.json"
LOG_FILE = "job.log"
#: process objects started by this process, so finished children are reaped
_CHILDREN: dict[int, subprocess.Popen] = {}


@dataclass
class JobStatus:
    """What the Train page shows about a background run."""

    state: str  # starting, running, finished, failed, cancelled, lost (process gone without a final state)
    alive: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    step: str | None = None  # the step running now
    progress: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    log_tail: str = ""
    cancelling: bool = False
    #: figures the trainer measured before its first step (``preflight.json``)
    preflight: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.state in ("finished", "failed", "cancelled", "lost")


def start(pipeline: Pipeline, runs_dir: str | Path, secrets: dict[str, str] | None = None) -> Path:
    """Start the pipeline in a background process; return its run folder."""
    run_dir = Path(runs_dir) / pipeline.name
    current = status(run_dir) if (run_dir / JOB_FILE).exists() else None
    if current and current.alive:
        raise RuntimeError(f"run {pipeline.name!r} is already running (pid {read_job(run_dir)['pid']})")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "CANCEL").unlink(missing_ok=True)
    runfile = pipeline.save(run_dir / "ui-run.toml")
    # an older run.json (say "finished") must not pass for this job's state before the engine rewrites it
    store.write_json(run_dir / "run.json", {"name": pipeline.name, "state": "starting", "steps": []})
    cmd = [sys.executable, "-m", "workbench", "run", str(runfile), "--runs-dir", str(Path(runs_dir).resolve())]
    spawn(cmd, run_dir, pipeline.base_dir, secrets, runfile=str(runfile))
    return run_dir


def spawn(cmd: list[str], folder: Path, cwd: Path, secrets: dict[str, str] | None = None, **job: Any) -> int:
    """Start ``cmd`` in a new session, its output in ``folder/job.log``, its pid in ``folder/job.json``."""
    env = {**os.environ, **{k: v for k, v in (secrets or {}).items() if v}, "PYTHONUNBUFFERED": "1"}
    with open(folder / LOG_FILE, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(cwd), env=env, start_new_session=True)
    _CHILDREN[proc.pid] = proc
    store.write_json(folder / JOB_FILE, {"pid": proc.pid, "started": time.time(), "command": cmd, **job})
    return proc.pid


def read_job(run_dir: Path) -> dict[str, Any]:
    return store.read_json(Path(run_dir) / JOB_FILE)


def cancel(run_dir: str | Path) -> None:
    """Ask the running step to stop cleanly (it checks ``ctx.cancelled()``)."""
    (Path(run_dir) / "CANCEL").write_text("cancelled from the UI\n")


def is_alive(pid: int) -> bool:
    """True while the process runs (a finished child of ours is reaped, a zombie is dead)."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        return proc.poll() is None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _history(path: Path) -> list[dict[str, Any]]:
    """Progress snapshots (n, elapsed, info...) from ``progress.jsonl``, skipping a torn last line."""
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def _active_step(run_dir: Path) -> Path | None:
    """The step folder being built now, else the newest finished one."""
    steps = run_dir / "steps"
    partial = sorted(steps.glob("*.partial")) if steps.exists() else []
    if partial:
        return partial[-1]
    done = store.step_dirs(run_dir)
    return done[-1] if done else None


def status(run_dir: str | Path) -> JobStatus:
    """Re-attach to a run folder: state, steps, live progress and loss history."""
    run_dir = Path(run_dir)
    info = _read(run_dir / "run.json") or {}
    job = _read(run_dir / JOB_FILE) or {}
    alive = bool(job.get("pid")) and is_alive(int(job["pid"]))
    state = info.get("state") or ("starting" if alive else "lost")
    if state == "running" and not alive:
        state = "lost"
    if state == "failed" and (run_dir / "CANCEL").exists():
        state = "cancelled"
    step = _active_step(run_dir)
    log = run_dir / LOG_FILE
    tail = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log.exists() else ""
    return JobStatus(state=state, alive=alive, steps=info.get("steps", []),
                     step=step.name.removesuffix(".partial") if step else None,
                     progress=_read(step / "progress.json") if step else None,
                     history=_history(step / "progress.jsonl") if step else [],
                     error=info.get("error"), log_tail=tail, cancelling=(run_dir / "CANCEL").exists(),
                     preflight=_find_preflight(step) if step else None)


def _find_preflight(step: Path) -> dict[str, Any] | None:
    found = sorted(step.rglob("preflight.json"))
    return _read(found[0]) if found else None


def chart_rows(history: list[dict[str, Any]], keys: tuple[str, ...] = ("loss", "val", "tok_s")) -> list[dict[str, Any]]:
    """Per-update rows ``{step, loss, ...}`` for the live charts (only the keys present)."""
    rows = []
    for snap in history:
        info = snap.get("info") or {}
        row = {"step": snap.get("n")} | {k: info[k] for k in keys if isinstance(info.get(k), (int, float))}
        if len(row) > 1:
            rows.append(row)
    return rows


def eta_text(progress: dict[str, Any] | None) -> str:
    """``n/total, elapsed, ETA`` as one readable line."""
    if not progress:
        return "waiting for the first progress report"
    n, total = progress.get("n", 0), progress.get("total")
    elapsed, eta = progress.get("elapsed") or 0, progress.get("eta")
    done = f"{n}/{total}" if total else f"{n}"
    left = f", about {duration(eta)} left" if eta is not None else ""
    return f"{progress.get('desc', 'step')}: {done} after {duration(elapsed)}{left}"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
