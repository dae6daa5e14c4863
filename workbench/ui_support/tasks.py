"""In-process work that may take seconds (pre-flight, previews), run in a thread and followed through files.

A task gets a :class:`workbench.context.StepContext` whose step folder is the
task's own folder, so ``ctx.progress`` writes the same ``progress.json`` the
CLI's steps write and ``ctx.cancelled()`` reads the folder's ``CANCEL`` file.
The page's progress panel reads :func:`view` (elapsed time, progress, ETA),
which has the same shape for a background run (:func:`run_view`), so every
long operation shows the same panel with a Cancel button.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.context import StepContext
from workbench.errors import Cancelled
from workbench.runtime import store
from workbench.ui_support import jobs

CANCEL_FILE = "CANCEL"


@dataclass
class Task:
    """One piece of work running in a thread of this process."""

    label: str
    folder: Path
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: Any = None
    error: BaseException | None = None
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def state(self) -> str:
        if self.running:
            return "running"
        if (self.folder / CANCEL_FILE).exists() or isinstance(self.error, Cancelled):
            return "cancelled"
        return "failed" if self.error is not None else "finished"


#: tasks of this Streamlit process by id (a task's result lives in memory; its progress on disk)
_TASKS: dict[str, Task] = {}


def start(fn: Callable[[StepContext], Any], label: str, root: str | Path | None = None) -> str:
    """Run ``fn(ctx)`` in a thread; return the task id the page keeps in its session."""
    task_id = uuid.uuid4().hex[:12]
    folder = Path(tempfile.mkdtemp(prefix=f"wb-task-{task_id}-", dir=root))
    task = Task(label=label, folder=folder)
    ctx = StepContext(step_dir=folder, step_name=label, cancel_file=folder / CANCEL_FILE, log=lambda _m: None)

    def work() -> None:
        try:
            task.result = fn(ctx)
        except BaseException as exc:  # noqa: BLE001 - kept and shown by the page, never lost in a thread
            task.error = exc
        finally:
            task.finished = time.time()

    task.thread = threading.Thread(target=work, name=f"wb-task-{label}", daemon=True)
    _TASKS[task_id] = task
    task.thread.start()
    return task_id


def get(task_id: str | None) -> Task | None:
    return _TASKS.get(task_id) if task_id else None


def open_tasks() -> dict[str, Task]:
    """Tasks of this process not yet discarded: running, or ended and waiting for their page to pick them up."""
    return dict(_TASKS)


def cancel(task_id: str) -> None:
    """Ask the task to stop: it checks ``ctx.cancelled()`` between units of work."""
    task = get(task_id)
    if task is not None and task.running:
        (task.folder / CANCEL_FILE).write_text("cancelled from the UI\n")


def discard(task_id: str | None) -> None:
    """Forget a finished task and remove its folder."""
    task = _TASKS.pop(task_id, None) if task_id else None
    if task is not None:
        shutil.rmtree(task.folder, ignore_errors=True)


@dataclass
class ProgressView:
    """What the progress panel draws, the same for an in-process task and a background run."""

    label: str
    state: str  # running, finished, failed, cancelled
    elapsed: float
    n: int | None = None
    total: int | None = None
    eta: float | None = None
    error: str | None = None
    cancelling: bool = False

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.n / self.total) if self.total and self.n is not None else None

    def text(self) -> str:
        """``label: n/total · elapsed · about ETA left`` as one line."""
        parts = [f"{self.label}: {self.state}" + (" (cancel requested)" if self.cancelling and self.running else "")]
        if self.n is not None:
            parts.append(f"{self.n}/{self.total}" if self.total else f"{self.n} done")
        parts.append(f"{jobs.duration(self.elapsed)} elapsed")
        if self.running and self.eta is not None:
            parts.append(f"about {jobs.duration(self.eta)} left")
        return " · ".join(parts)


def _read_progress(folder: Path | None) -> dict[str, Any]:
    try:
        return store.read_json(folder / "progress.json") if folder else {}
    except (OSError, ValueError):
        return {}


def view(task_id: str) -> ProgressView | None:
    """The task's state, elapsed time and progress (None when this process does not know the id)."""
    task = get(task_id)
    if task is None:
        return None
    p = _read_progress(task.folder)
    error = None if task.state in ("finished", "cancelled") else str(task.error) if task.error else None
    return ProgressView(label=task.label, state=task.state, elapsed=(task.finished or time.time()) - task.started,
                        n=p.get("n"), total=p.get("total"), eta=p.get("eta"), error=error,
                        cancelling=(task.folder / CANCEL_FILE).exists())


def run_view(run_dir: str | Path, label: str = "run") -> ProgressView | None:
    """A background run (:mod:`jobs`) as a progress view: the running step's progress, elapsed since the start."""
    run_dir = Path(run_dir)
    if not (run_dir / jobs.JOB_FILE).exists():
        return None
    s = jobs.status(run_dir)
    started = (jobs.read_job(run_dir) or {}).get("started") or time.time()
    p = s.progress or {}
    state = "running" if s.alive else {"finished": "finished", "cancelled": "cancelled"}.get(s.state, "failed")
    ended = max((run_dir / "run.json").stat().st_mtime, started) if not s.alive and (run_dir / "run.json").exists() else time.time()
    return ProgressView(label=f"{label} ({s.step})" if s.step and s.alive else label, state=state,
                        elapsed=ended - started, n=p.get("n"), total=p.get("total"), eta=p.get("eta"),
                        error=(s.error or "the process ended without finishing") if state == "failed" else None,
                        cancelling=s.cancelling)
