"""Learning-rate schedules: linear warm-up, then linear, cosine, step or constant."""

from __future__ import annotations

import math
from typing import Any


def lr_factor(step: int, total: int, *, kind: str, warmup: int, step_every: int = 50, step_gamma: float = 0.5) -> float:
    """Multiplier of the peak rate at optimiser step ``step`` (0-based) of ``total``."""
    if warmup and step < warmup:
        return (step + 1) / (warmup + 1)
    done = step - warmup
    span = max(total - warmup, 1)
    if kind == "linear":
        return max(0.0, 1 - done / span)
    if kind == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(done / span, 1.0)))
    if kind == "step":
        return step_gamma ** (done // step_every)
    if kind == "constant":
        return 1.0
    raise ValueError(f"unknown scheduler {kind!r}")


def make_scheduler(optimizer: Any, total: int, opts: Any) -> Any:
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, lambda s: lr_factor(s, total, kind=opts.scheduler, warmup=opts.warmup_steps,
                                                   step_every=opts.step_every, step_gamma=opts.step_gamma))
