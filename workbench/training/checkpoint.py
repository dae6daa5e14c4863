"""Checkpoints inside the step folder, so a killed run resumes where it stopped.

A checkpoint is ``checkpoints/step-NNNNNN/`` holding the trainable weights,
optimiser and scheduler state and the loop's own state (step, epoch, batch,
history, early-stopping counters). It is written to a temporary folder and
renamed, so a kill mid-write leaves the previous checkpoint intact; only the
newest ``keep`` are kept.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

STATE = "trainer_state.json"


def checkpoint_dirs(root: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not root.exists():
        return []
    return sorted(p for p in root.glob("step-*") if (p / STATE).exists() and not p.name.endswith(".tmp"))


def latest(root: Path) -> Path | None:
    found = checkpoint_dirs(root)
    return found[-1] if found else None


def save(root: Path, step: int, *, weights: dict[str, Any], optimizer: dict[str, Any], scheduler: dict[str, Any],
         state: dict[str, Any], keep: int) -> Path:
    """Write one checkpoint (state dicts of weights, optimiser and scheduler) and prune old ones."""
    import torch

    target = root / f"step-{step:06d}"
    tmp = root / f"step-{step:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(weights, tmp / "weights.pt")
    torch.save({"optimizer": optimizer, "scheduler": scheduler}, tmp / "optimizer.pt")
    (tmp / STATE).write_text(json.dumps(state, indent=1))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    for old in checkpoint_dirs(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load(folder: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(weights, optimizer_and_scheduler, state)`` of one checkpoint."""
    import torch

    weights = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    opt = torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=False)
    return weights, opt, json.loads((folder / STATE).read_text())
