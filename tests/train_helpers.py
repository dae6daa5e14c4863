"""Helpers the trainer tests share: a cancel that arrives at a chosen check, a kill at a chosen checkpoint."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Callable


def cancel_on_check(n: int) -> Callable[[], bool]:
    """A ``cancelled`` callable that answers yes on its ``n``-th call (the loop asks once per step)."""
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] == n

    return cancelled


def kill_when_exists(proc: subprocess.Popen, path: Path, timeout: float = 120) -> None:
    """SIGKILL ``proc`` as soon as ``path`` (a checkpoint) exists; fail if it ends first."""
    deadline = time.time() + timeout
    while time.time() < deadline and not path.exists():
        assert proc.poll() is None, "training finished or failed before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
