"""The optimiser-step loop both local trainers share.

A :class:`Runner` owns the accelerator, optimiser, schedule and loop state. It
runs the planned optimiser steps, validates, stops early on validation loss,
checkpoints every ``checkpoint_every`` steps (keeping ``keep_checkpoints``),
resumes from the latest checkpoint, reports progress and stops cleanly on a
cancel. A trainer subclasses it to say what an example is and how a batch is
collated and saved: :mod:`workbench.training.loop` (chat models) and
``plugins/trainers/classifier.py`` (encoders).

Under ``accelerate launch`` every process takes its share of each step's
micro-batches and only the main process writes files; decisions that end the
loop (early stopping, cancel) are the same on every process. Under FSDP each
process holds only a shard of the weights: whole weights (checkpoints, best
weights, the saved model) are gathered by every process together, through
``torch.distributed.checkpoint.state_dict``, and the main process writes them.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import Cancelled
from workbench.lm.device import free_cores
from workbench.training import checkpoint, methods
from workbench.training.batching import plan_batches
from workbench.training.sizing import choose_epochs, validation_interval


class TrainingCancelled(Cancelled):
    """The user asked to stop; the latest checkpoint lets the step resume."""


@dataclass
class LoopState:
    """Everything besides tensors that a resumed run needs to continue exactly."""

    step: int = 0
    tokens: int = 0
    seconds: float = 0.0
    best_val: float | None = None
    best_step: int | None = None
    plateau_val: float | None = None
    bad_evals: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> LoopState:
        """The state of a checkpoint; one written before ``plateau_val`` existed measured plateaus from
        ``best_val``, so its count of validations without improvement goes on from there."""
        return cls(**{"plateau_val": saved.get("best_val"), **saved})

    def observe(self, val: float | None, min_delta: float, patience: int) -> None:
        """Track the lowest validation loss, and count validations that do not improve on the loss of the
        last improvement by the fraction ``min_delta``.

        The two differ on purpose: ``min_delta`` decides when a plateau ends the run, but the best weights
        are those of the lowest loss, however small its lead. ``min_delta`` is relative because a loss's scale
        depends on the data: an absolute 0.01 stopped a chat run whose loss still fell 10-25% per validation
        (0.025, 0.021, 0.016, 0.015) while its held-out answers were still getting better.
        """
        if val is None:
            return
        if self.best_val is None or val < self.best_val:
            self.best_val, self.best_step = val, self.step
        if self.plateau_val is None or val < self.plateau_val * (1 - min_delta):
            self.plateau_val, self.bad_evals = val, 0
            return
        self.bad_evals += 1
        if patience and self.bad_evals >= patience:
            self.stopped_early = True


class Plan:
    """Which micro-batches each process runs at each optimiser step, epoch by epoch.

    Deterministic for (seed, epoch), so a resumed run continues with exactly
    the batches the killed one would have run.
    """

    def __init__(self, lengths: Sequence[int], opts: Any, seed: int, rank: int, world: int, mode: str) -> None:
        self.lengths = list(lengths)
        self.opts, self.seed, self.rank, self.world, self.mode = opts, seed, rank, world, mode
        self.per_step = opts.grad_accum * world
        self.steps_per_epoch = max(1, math.ceil(len(self.epoch(0)) / self.per_step))
        self.epochs, self.epochs_reason = choose_epochs(len(self.lengths), opts.epochs, opts.max_steps)
        self.total = opts.max_steps or max(1, math.ceil(self.epochs * self.steps_per_epoch))
        self.eval_every = validation_interval(opts.eval_every, self.steps_per_epoch)

    def epoch(self, index: int) -> list[list[int]]:
        batches = plan_batches(self.lengths, self.opts.batch_size, self.mode, self.seed, index)
        short = -len(batches) % self.per_step  # every process runs the same number of micro-batches
        return batches + batches[:short]

    def micro_batches(self, step: int) -> list[list[int]]:
        epoch, within = divmod(step, self.steps_per_epoch)
        mine = self.epoch(epoch)[self.rank::self.world]
        return mine[within * self.opts.grad_accum:(within + 1) * self.opts.grad_accum]


class Runner:
    """One training run; subclasses set ``train_ex``/``val_ex`` and implement ``collate``, ``save`` and ``fresh_model``.

    Examples need ``input_ids``; ``loss_terms`` says how many terms a
    micro-batch's mean loss averages (trained tokens or their summed weights,
    or examples). The loss module given to :meth:`setup` returns ``(summed
    loss, number of terms)``.
    """

    desc = "train"
    train_ex: Sequence[Any] = ()
    val_ex: Sequence[Any] = ()

    def __init__(self, opts: Any, out_dir: Path, *, seed: int, progress: Callable[[int | None, str], Any] | None = None,
                 cancelled: Callable[[], bool] = lambda: False, log: Callable[[str], None] = print) -> None:
        import torch
        from accelerate.utils import set_seed

        self.opts, self.out, self.seed = opts, Path(out_dir), seed
        self.progress, self.cancelled, self.log = progress, cancelled, log
        self.accelerator = make_accelerator(opts)
        self.threads = torch.get_num_threads()  # as make_accelerator set it
        set_seed(seed)
        self.main = self.accelerator.is_main_process
        self.checkpoints = self.out / "checkpoints"
        self.state = LoopState()
        self.resumed_from: Path | None = None

    # -- what a trainer supplies

    def collate(self, examples: Sequence[Any]) -> dict[str, Any]:
        raise NotImplementedError

    def loss_terms(self, idx: Sequence[int]) -> float:
        return len(idx)

    def chunks(self, idx: Sequence[int]) -> list[list[int]]:
        """Pieces of a micro-batch run one after another (a memory cap); one piece by default."""
        return [list(idx)]

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write ``model`` (whole weights) to ``folder``; called on the main process only. Stats about it."""
        raise NotImplementedError

    def fresh_model(self) -> Any:
        """The model as :meth:`setup` got it, before training (FSDP: the unsharded copy that is saved)."""
        raise NotImplementedError

    # -- the loop

    def setup(self, model: Any, loss: Any, groups: list[dict[str, Any]], mode: str) -> None:
        """Plan the batches, build optimiser and schedule, and hand both to the accelerator."""
        import torch

        from workbench.training.schedule import make_scheduler

        acc = self.accelerator
        self.model = model
        self.trainable_names = {n for n, p in model.named_parameters() if p.requires_grad}
        self.plan = Plan([len(e.input_ids) for e in self.train_ex], self.opts, self.seed, acc.process_index,
                         acc.num_processes, mode)
        optimizer = torch.optim.AdamW(groups, lr=self.opts.learning_rate)
        self.scheduler = make_scheduler(optimizer, self.plan.total, self.opts)
        self.wrapped, self.optimizer = acc.prepare(loss, optimizer)

    def batch(self, examples: Sequence[Any], idx: Sequence[int]) -> dict[str, Any]:
        device = self.accelerator.device
        return {k: v.to(device) for k, v in self.collate([examples[i] for i in idx]).items()}

    def forward_backward(self, idx: Sequence[int], scale: float, sync: bool) -> tuple[float, int]:
        """Mean loss over the micro-batch's loss terms; gradients scaled by ``scale``, all-reduced if ``sync``."""
        acc = self.accelerator
        chunks = self.chunks(idx)
        terms = max(self.loss_terms(idx), 1)
        loss_total, tokens = 0.0, 0
        for c, chunk in enumerate(chunks):
            batch = self.batch(self.train_ex, chunk)
            last = sync and c == len(chunks) - 1
            with (nullcontext() if last else acc.no_sync(self.wrapped)), acc.autocast():
                loss_sum, _ = self.wrapped(**batch)
            acc.backward(loss_sum * (scale / terms))
            loss_total += float(loss_sum.detach())
            tokens += int(batch["attention_mask"].sum())
        return loss_total / terms, tokens

    def evaluate(self) -> float | None:
        """Mean validation loss over every process's share of the validation examples."""
        import torch

        if not self.val_ex:
            return None
        acc = self.accelerator
        self.wrapped.eval()
        total = torch.zeros(2, device=acc.device)
        batches = plan_batches([len(e.input_ids) for e in self.val_ex], self.opts.batch_size, "length-grouped", 0, 0)
        with torch.no_grad():
            for idx in batches[acc.process_index::acc.num_processes]:
                with acc.autocast():
                    loss_sum, n = self.wrapped(**self.batch(self.val_ex, idx))
                total += torch.stack([loss_sum.float(), n.float()])
        self.wrapped.train()
        total = acc.reduce(total, reduction="sum")
        return float(total[0] / total[1].clamp(min=1))

    def resume(self) -> bool:
        """Continue from the latest checkpoint, if there is one."""
        found = checkpoint.latest(self.checkpoints)
        if found is None:
            return False
        weights, opt_state, saved = checkpoint.load(found)
        self.load_weights(weights)
        self.load_optimizer(opt_state["optimizer"])
        self.scheduler.load_state_dict(opt_state["scheduler"])
        self.state, self.resumed_from = LoopState.from_saved(saved), found
        self.log(f"{self.desc}: resuming from {found.name} (step {self.state.step} of {self.plan.total})")
        return True

    def fit(self) -> None:
        """Optimiser steps until the plan is done, early stopping triggers or a cancel arrives."""
        writer = _tensorboard(self.out / "tensorboard") if self.main else None
        bar = self.progress(self.plan.total, self.desc) if (self.progress and self.main) else nullcontext()
        with bar:
            if self.state.step and hasattr(bar, "update"):
                bar.update(self.state.step, resumed=self.state.step)
            while self.state.step < self.plan.total and not self.state.stopped_early:
                record = self.optimizer_step()
                if self.validation_due():
                    self.validate(record)
                self.state.history.append(record)
                self.report(record, writer, bar)
                self.checkpoint_or_stop()
        if writer:
            writer.close()

    def optimizer_step(self) -> dict[str, Any]:
        """Forward and backward over this step's micro-batches, then one optimiser step; its history record."""
        started = time.perf_counter()
        micro = self.plan.micro_batches(self.state.step)
        losses, tokens = [], 0
        for k, idx in enumerate(micro):
            loss, n = self.forward_backward(idx, 1 / len(micro), sync=k == len(micro) - 1)
            losses.append(loss)
            tokens += n
        if self.opts.max_grad_norm:  # all parameters (frozen ones have no gradient): FSDP accepts only the model's own list
            self.accelerator.clip_grad_norm_(self.wrapped.parameters(), self.opts.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        seconds = time.perf_counter() - started
        self.state.seconds += seconds
        self.state.tokens += tokens * self.accelerator.num_processes
        return {"step": self.state.step, "loss": sum(losses) / len(losses), "lr": self.scheduler.get_last_lr()[0],
                "tokens_per_second": tokens / seconds}

    def validation_due(self) -> bool:
        step = self.state.step
        return step % self.plan.eval_every == 0 or step == self.plan.total

    def validate(self, record: dict[str, Any]) -> None:
        """Validation loss into ``record``; early-stopping counters; the best weights kept for ``restore_best``."""
        import torch

        record["val_loss"] = self.evaluate()
        self.state.observe(record["val_loss"], self.opts.early_stopping_min_delta, self.opts.early_stopping_patience)
        if record["val_loss"] is not None and self.state.best_step == self.state.step and self.opts.restore_best:
            weights = self.trainable_state()
            if self.main:
                self.checkpoints.mkdir(parents=True, exist_ok=True)
                torch.save(weights, self.best_path)

    @property
    def best_path(self) -> Path:
        return self.checkpoints / "best.pt"

    def report(self, record: dict[str, Any], writer: Any, bar: Any) -> None:
        """One step's figures to TensorBoard and the progress bar (the UI reads ``loss``, ``tok_s`` and ``val``)."""
        if writer:
            for key, value in record.items():
                if key != "step" and value is not None:
                    writer.add_scalar(f"train/{key}", value, self.state.step)
        if hasattr(bar, "update"):
            bar.update(1, loss=record["loss"], tok_s=round(record["tokens_per_second"], 1),
                       **({"val": record["val_loss"]} if record.get("val_loss") is not None else {}))

    def checkpoint_or_stop(self) -> None:
        """Checkpoint when due or when cancelled; on a cancel (seen by any process) stop every process."""
        every = self.opts.checkpoint_every
        stop = _agreed(self.accelerator, self.cancelled())
        if stop or (every and self.state.step % every == 0 and self.state.step < self.plan.total):
            self.save_checkpoint()
        if stop:
            raise TrainingCancelled(f"training cancelled at step {self.state.step}; run the step again to resume")

    def save_checkpoint(self) -> None:
        weights, optimizer = self.trainable_state(), self.optimizer_state()
        if self.main:
            checkpoint.save(self.checkpoints, self.state.step, weights=weights, optimizer=optimizer,
                            scheduler=self.scheduler.state_dict(), state=vars(self.state),
                            keep=self.opts.keep_checkpoints)
        self.accelerator.wait_for_everyone()

    # -- whole weights; under FSDP every process must call these together

    @property
    def sharded(self) -> bool:
        from accelerate.utils import DistributedType

        return self.accelerator.distributed_type == DistributedType.FSDP

    def _options(self, **kw: Any) -> Any:
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        return StateDictOptions(full_state_dict=True, **kw)

    def _gather(self, main_only: bool = False) -> dict[str, Any]:
        """FSDP: whole weights gathered from the shards, named as in ``self.model``.

        ``main_only``: on an accelerator, into the main process's CPU memory only
        (torch's ``cpu_offload``). On a CPU device every process gets them: they
        are in CPU memory already, and FSDP1's offloading gather segfaults there.
        """
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        offload = main_only and self.accelerator.device.type != "cpu"
        full = get_model_state_dict(self.wrapped, options=self._options(cpu_offload=offload))
        return {k.removeprefix("model."): v for k, v in full.items()}

    def state_dict(self) -> dict[str, Any]:
        """All of the model's weights, whole, on every process."""
        return self._gather() if self.sharded else self.model.state_dict()

    def trainable_state(self) -> dict[str, Any]:
        """The trainable weights, whole and on CPU, for the main process to write (the others may get ``{}``)."""
        if not self.sharded:
            return methods.trainable_state(self.model) if self.main else {}
        full = self._gather(main_only=True)
        return {k: v for k, v in full.items() if k in self.trainable_names}

    def load_weights(self, weights: dict[str, Any]) -> None:
        """Load whole trainable weights (every process reads them: a shared folder across machines)."""
        if not self.sharded:
            methods.load_trainable_state(self.model, weights)
            return
        from torch.distributed.checkpoint.state_dict import set_model_state_dict
        from torch.distributed.fsdp import FSDPModule

        # FSDP2 keeps the root's parameters (final norm, head) unsharded after a forward, plain tensors where
        # loading expects shards: reshard first (restoring the best weights after validation needs it)
        for module in self.wrapped.modules():
            if isinstance(module, FSDPModule):
                module.reshard()
        set_model_state_dict(self.wrapped, {f"model.{k}": v for k, v in weights.items()}, options=self._options(strict=False))

    def optimizer_state(self) -> dict[str, Any]:
        if not self.sharded:
            return self.optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        offload = self.accelerator.device.type != "cpu"  # as in _gather
        return get_optimizer_state_dict(self.wrapped, self.optimizer.optimizer, options=self._options(cpu_offload=offload))

    def load_optimizer(self, state: dict[str, Any]) -> None:
        if not self.sharded:
            self.optimizer.load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

        set_optimizer_state_dict(self.wrapped, self.optimizer.optimizer, state, options=self._options())

    def whole_model(self) -> Any:
        """The trained model with whole weights: itself, or under FSDP a fresh copy given the gathered
        weights on the main process (``None`` on the others)."""
        if not self.sharded:
            return self.model
        full = self._gather(main_only=True)
        if not self.main:
            return None
        model = self.fresh_model()
        model.load_state_dict(full)
        return model

    def finish(self, save: bool) -> dict[str, Any]:
        """Restore the best weights, save model and history (main process), drop the checkpoints; the stats."""
        import torch

        if self.opts.restore_best and self.best_path.exists() and self.state.best_step != self.state.step:
            self.load_weights(torch.load(self.best_path, map_location="cpu", weights_only=True))
        stats = self.stats()
        model = self.whole_model() if save else None
        if self.main and save:
            stats.update(self.save(model, self.out / "model"))
            (self.out / "history.json").write_text(json.dumps(self.state.history, indent=1))
            shutil.rmtree(self.checkpoints, ignore_errors=True)  # the saved model supersedes them
        self.accelerator.wait_for_everyone()
        return stats

    def stats(self) -> dict[str, Any]:
        state = self.state
        last = state.history[-1] if state.history else {}
        vals = [h["val_loss"] for h in state.history if h.get("val_loss") is not None]
        return {
            "steps": state.step,
            "final_train_loss": last.get("loss"),
            "final_val_loss": vals[-1] if vals else None,
            "best_val_loss": state.best_val,
            "best_step": state.best_step,
            "stopped_early": state.stopped_early,
            "stopped_early_at_step": state.step if state.stopped_early else None,
            "epochs_chosen": self.plan.epochs,
            "epochs_reason": self.plan.epochs_reason,
            "eval_every": self.plan.eval_every,
            "threads": self.threads,
            "train_examples": len(self.train_ex),
            "validation_examples": len(self.val_ex),
            "tokens": state.tokens,
            "train_seconds": round(state.seconds, 2),
            "tokens_per_second": round(state.tokens / state.seconds, 1) if state.seconds else None,
            "processes": self.accelerator.num_processes,
            "distributed": self.accelerator.distributed_type.value,  # NO, MULTI_CPU / MULTI_GPU (DDP), FSDP, ...
            "resumed_from_step": int(self.resumed_from.name.split("-")[1]) if self.resumed_from else None,
        }


def loss_module(model: Any, loss: Callable[..., tuple[Any, Any]]) -> Any:
    """``model`` in a module whose forward is ``loss(model, **batch)`` -> ``(summed loss, number of terms)``.

    The accelerator wraps this module, not the model, so DDP and FSDP see the
    whole loss computation as one forward (FSDP gathers the root's weights
    there, whichever submodules the loss calls).
    """
    import torch

    class Loss(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.model = inner

        def forward(self, **batch: Any) -> tuple[Any, Any]:
            return loss(self.model, **batch)

    return Loss(model)


def make_accelerator(opts: Any) -> Any:
    """CUDA with bf16 autocast when present, else CPU with threads for the free cores."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    from workbench.lm.device import pick_device

    device, dtype = pick_device(opts.device)
    if device == "cpu":
        torch.set_num_threads(opts.threads or free_cores())
    # processes run different numbers of forward passes (chunks, validation shares): no per-forward buffer sync
    ddp = DistributedDataParallelKwargs(broadcast_buffers=False)
    return Accelerator(cpu=device == "cpu", mixed_precision="bf16" if dtype == torch.bfloat16 else "no",
                       kwargs_handlers=[ddp])


def _agreed(accelerator: Any, flag: bool) -> bool:
    """One decision for all processes (any process seeing a cancel stops them all)."""
    if accelerator.num_processes == 1:
        return flag
    import torch

    value = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(value, reduction="sum").item() > 0)


def _tensorboard(folder: Path) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(folder))
