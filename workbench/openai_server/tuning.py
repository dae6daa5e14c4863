"""The server's fine-tuning jobs, trained by the shared local trainer (:mod:`workbench.training`).

A job's hyperparameters map onto :class:`~workbench.training.options.CausalLMOptions`:
``n_epochs`` -> ``epochs``, ``batch_size`` -> ``batch_size``,
``learning_rate_multiplier`` x the method's base rate -> ``learning_rate``,
the job's ``seed`` -> ``seed``. So a job trains exactly like a ``hf-causal-lm``
step: the model's own chat template, loss on assistant turns only (``weight: 0``
turns are context), LoRA or full fine-tuning as the server is configured.

The trainer's progress becomes the job's metrics events (step, total steps,
training and validation loss). Its checkpoints (one per epoch: the trainer
writes them every ``steps per epoch`` optimiser steps) are copied as they
appear, because the trainer removes them once the model is saved; afterwards
the newest ones are turned into model folders and served as the job's
checkpoints, with the final model as the last one.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

#: base learning rate per method; the job's ``learning_rate_multiplier`` scales it
BASE_LEARNING_RATE = {"full": 1e-4, "lora": 1e-3}
#: set by the job itself, so not allowed in the server's trainer options
FROM_JOB = ("model", "epochs", "max_steps", "batch_size", "seed", "grid")
#: what the server passes the trainer unless told otherwise: OpenAI returns the last weights, quickly
SERVER_DEFAULTS: dict[str, Any] = {"method": "full", "restore_best": False, "warmup_probe_steps": 0,
                                   "warmup_steps": 0, "scheduler": "linear"}


def trainer_settings(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The server's trainer options (``SERVER_DEFAULTS`` + ``overrides``), checked now rather than per job."""
    from workbench.training.options import CausalLMOptions

    settings = {**SERVER_DEFAULTS, **(overrides or {})}
    clash = sorted(set(settings) & set(FROM_JOB))
    if clash:
        raise WorkbenchError(f"trainer options {', '.join(clash)} come from each fine-tuning job",
                             hint="set them as job hyperparameters (n_epochs, batch_size) or the job's model")
    if settings["method"] not in BASE_LEARNING_RATE:
        raise WorkbenchError(f"the server trains with method lora or full, not {settings['method']!r}")
    try:
        CausalLMOptions(**settings)
    except ValueError as exc:
        raise WorkbenchError(f"invalid trainer options for the server: {exc}") from None
    return settings


@dataclass
class Hyper:
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    seed: int


@dataclass
class Checkpoint:
    step: int
    folder: Path
    metrics: dict[str, float]


@dataclass
class Outcome:
    model_dir: Path
    trained_tokens: int
    steps: int
    metrics: dict[str, float]
    checkpoints: list[Checkpoint] = field(default_factory=list)


class _JobProgress:
    """The trainer's progress bar, reported as metrics events; copies each new checkpoint's weights."""

    def __init__(self, total: int, on_metrics: Callable[[dict[str, Any]], None], ckpt_root: Path, keep: Path,
                 keep_count: int) -> None:
        self.total, self.on_metrics, self.ckpt_root, self.keep, self.keep_count = total, on_metrics, ckpt_root, keep, keep_count
        self.n = 0
        self.metrics: dict[str, float] = {}
        self.by_step: dict[int, dict[str, float]] = {}
        self.copied: list[tuple[int, Path]] = []

    def __enter__(self) -> _JobProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._copy_checkpoints()

    def update(self, n: int = 1, **info: Any) -> None:
        self._copy_checkpoints()
        self.n += n
        if "loss" not in info:  # a resumed start: nothing new to report
            return
        self.metrics = {"step": self.n, "train_loss": float(info["loss"])}
        if info.get("val") is not None:
            self.metrics["valid_loss"] = float(info["val"])
        self.by_step[self.n] = dict(self.metrics)
        self.on_metrics({**self.metrics, "total_steps": self.total})

    def _copy_checkpoints(self) -> None:
        from workbench.training.checkpoint import checkpoint_dirs

        done = {step for step, _ in self.copied}
        for folder in checkpoint_dirs(self.ckpt_root):
            step = int(folder.name.split("-")[1])
            if step in done:
                continue
            target = self.keep / f"step-{step:06d}.pt"
            try:
                shutil.copyfile(folder / "weights.pt", target)
            except FileNotFoundError:  # pruned by the trainer meanwhile
                continue
            self.copied.append((step, target))
        while len(self.copied) > self.keep_count:
            self.copied.pop(0)[1].unlink(missing_ok=True)


def finetune(base_dir: Path, train_rows: list[dict[str, Any]], val_rows: list[dict[str, Any]], out_dir: Path,
             hyper: Hyper, settings: dict[str, Any], *, on_metrics: Callable[[dict[str, Any]], None],
             cancelled: Callable[[], bool], log: Callable[[str], None], keep_checkpoints: int) -> Outcome:
    """Train ``base_dir`` on the rows with the shared trainer; the model lands in ``out_dir/model``.

    Raises :class:`workbench.training.loop.TrainingCancelled` when ``cancelled()`` turns true.
    """
    from workbench.training.loop import TrainJob, train
    from workbench.training.options import CausalLMOptions

    base_rate = settings.get("learning_rate", BASE_LEARNING_RATE[settings["method"]])
    steps_per_epoch = math.ceil(len(train_rows) / hyper.batch_size)
    # rehearsal off: like OpenAI's service, the stand-in trains on the uploaded file alone (its trained tokens bill it)
    opts = CausalLMOptions(**{"rehearsal": 0, **settings, "model": str(base_dir), "epochs": hyper.n_epochs,
                              "batch_size": hyper.batch_size, "seed": hyper.seed,
                              "learning_rate": base_rate * hyper.learning_rate_multiplier,
                              "checkpoint_every": steps_per_epoch if hyper.n_epochs > 1 else 0,
                              "keep_checkpoints": 2})
    keep = out_dir / "epoch-weights"
    keep.mkdir(parents=True, exist_ok=True)
    bars: list[_JobProgress] = []

    def progress(total: int | None, desc: str) -> _JobProgress:
        bars.append(_JobProgress(total or 0, on_metrics, out_dir / "checkpoints", keep, keep_checkpoints - 1))
        return bars[-1]

    job = TrainJob(opts, train_rows, val_rows, out_dir, seed=hyper.seed, progress=progress, cancelled=cancelled,
                   log=log)
    result = train(job)
    bar = bars[-1]
    checkpoints = [Checkpoint(step, _materialise(opts, weights, out_dir / f"checkpoint-{step:06d}"),
                              bar.by_step.get(step, {"step": step}))
                   for step, weights in bar.copied]
    shutil.rmtree(keep, ignore_errors=True)
    return Outcome(out_dir / "model", int(result.stats.get("tokens") or 0), int(result.stats["steps"]), bar.metrics,
                   checkpoints)


def _materialise(opts: Any, weights: Path, folder: Path) -> Path:
    """A servable model folder from a checkpoint's trainable weights (base model + those weights)."""
    import torch

    from workbench.training import methods
    from workbench.training.loop import load_base

    model, tokenizer = load_base(opts)
    model = methods.prepare_model(model, opts)
    methods.load_trainable_state(model, torch.load(weights, map_location="cpu", weights_only=True))
    methods.save_model(model.eval(), tokenizer, folder, merge=True)
    return folder
