"""Device and precision choice: CUDA with bf16 when present, else CPU fp32."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pick_device(prefer: str = "auto") -> tuple[str, Any]:
    """Return ``(device, dtype)``; ``prefer`` is ``auto``, ``cuda`` or ``cpu``."""
    import torch

    if prefer in ("auto", "cuda") and torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return "cuda", dtype
    if prefer == "cuda":
        from workbench.errors import WorkbenchError

        raise WorkbenchError("device 'cuda' was requested but no CUDA GPU is available",
                             hint="use device = \"auto\" to fall back to the CPU")
    return "cpu", torch.float32


def threads_for(cores: int, busy_cores: float) -> int:
    """Torch threads for the main job: the cores other processes leave free, at least one.

    A core counts as busy when other processes keep it more than half busy,
    so an idle machine (busy below 0.5 core) gives the job every core.
    """
    return max(1, cores - int(busy_cores + 0.5))


def usable_cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def busy_cores(probe_seconds: float = 0.2, stat: Path = Path("/proc/stat")) -> float:
    """Cores kept busy right now by other processes: the machine's busy fraction over a short probe.

    The 1-minute load average lags: right after another job ends it still
    reads 1 or more on an idle machine. This process sleeps during the probe,
    so its own work is not counted. Without ``/proc/stat`` (not Linux), the
    1-minute load average is the fallback.
    """
    import os
    import time

    if not stat.exists():
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    before = _cpu_times(stat)
    time.sleep(probe_seconds)
    after = _cpu_times(stat)
    busy, total = after[0] - before[0], after[1] - before[1]
    cpus = os.cpu_count() or 1
    return cpus * busy / total if total > 0 else 0.0


def _cpu_times(stat: Path) -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from the first line of ``/proc/stat``.

    Idle and iowait are not busy, nor is ``nice`` time: processes running at a
    lower priority yield their cores to the main job (the scheduler gives a
    nice-19 process about 1.5% of a core against a normal one).
    """
    fields = [int(x) for x in stat.read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[1] + fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])  # guest times are already counted in user and nice
    return total - idle, total


def free_cores() -> int:
    """Threads for torch now: every core on an idle machine, fewer when other processes keep cores busy.

    On a shared CPU, torch threads beyond the free cores wait on each other at
    every parallel region: measured here under load, one thread decoded
    SmolLM2 about 7x faster than two, and trained about 3x faster.
    """
    return threads_for(usable_cores(), busy_cores())
