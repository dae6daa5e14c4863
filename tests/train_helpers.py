"""Helpers the trainer tests share: a cancel that arrives at a chosen check, a kill after a chosen checkpoint."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def cancel_on_check(n: int) -> Callable[[], bool]:
    """A ``cancelled`` callable that answers yes on its ``n``-th call (the loop asks once per step)."""
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] == n

    return cancelled


def kill_after_checkpoint(proc: subprocess.Popen, root: Path, step: int, timeout: float = 300) -> int:
    """SIGKILL ``proc`` once its newest complete checkpoint under ``root`` is at or past ``step``; that step.

    Any checkpoint from ``step`` on will do, not only ``step`` itself: with a keep limit a single checkpoint
    lives a few steps (~0.1 s on the tiny models) and a slow poll would miss it. Fails if the process ends first."""
    from workbench.training.checkpoint import latest

    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.poll() is None, "training finished or failed before it could be killed"
            try:
                found = latest(root)
            except FileNotFoundError:  # the folder went away while listed: the run is ending
                found = None
            if found is not None and int(found.name.split("-")[1]) >= step:
                return int(found.name.split("-")[1])
            time.sleep(0.02)
        raise AssertionError(f"no checkpoint at or past step {step} under {root} within {timeout:g} s")
    finally:
        kill_tree(proc)


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and every process it started: ``accelerate launch`` workers run in sessions of their own
    and would otherwise go on training (or wait forever for the killed launcher)."""
    import psutil

    try:
        parent = psutil.Process(proc.pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:  # it ended already, and poll() reaped it
        procs = []
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    proc.wait()
    psutil.wait_procs(procs[1:], timeout=30)


def assert_stopped_on_patience_with_the_lowest_loss_kept(stats: dict, out: Path) -> None:
    """``min_delta`` = 1 (a 100% drop) counts every validation after the first as no gain: patience 2 stops at step 3;
    the best step is still the one of the lowest validation loss in the run's history."""
    history = json.loads((out / "history.json").read_text())
    vals = {h["step"]: h["val_loss"] for h in history if h.get("val_loss") is not None}
    assert stats["stopped_early"] and stats["steps"] == 3 and sorted(vals) == [1, 2, 3]
    assert stats["best_step"] == min(vals, key=lambda s: vals[s]) and stats["best_val_loss"] == min(vals.values())
