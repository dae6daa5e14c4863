"""Device and precision choice: CUDA with bf16 when present, else CPU fp32."""

from __future__ import annotations

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


def free_cores() -> int:
    """Cores not kept busy by other processes (cores minus the 1-minute load average), at least one.

    On a shared CPU, torch threads beyond the free cores wait on each other at
    every parallel region: measured here under load, one thread decoded
    SmolLM2 about 7x faster than two, and trained about 3x faster.
    """
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = int(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, cores - busy)
