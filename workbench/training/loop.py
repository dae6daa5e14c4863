"""The training loop: accelerate-driven, checkpointed, observable, cancellable.

One code path for one CPU, one GPU and ``accelerate launch`` data parallelism
(DDP, FSDP): the model and optimiser go through ``accelerate.Accelerator``,
each process takes its share of every step's micro-batches, and only the main
process writes files. The loss is computed on assistant tokens only, and the
output head runs only at those positions (on a 49k-token vocabulary the head
is a fifth of SmolLM2's compute, spent for nothing on prompt tokens).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from workbench.device import free_cores
from workbench.errors import WorkbenchError
from workbench.training import checkpoint, methods, preflight
from workbench.training.batching import collate, plan_batches, split_by_tokens
from workbench.training.chat import IGNORE, Example, build_examples
from workbench.training.options import CausalLMOptions


class TrainingCancelled(KeyboardInterrupt):
    """The user asked to stop; the latest checkpoint lets the step resume."""


@dataclass
class TrainJob:
    options: CausalLMOptions
    train_rows: list[dict[str, Any]]
    val_rows: list[dict[str, Any]]
    out_dir: Path
    seed: int = 0
    progress: Callable[[int | None, str], Any] | None = None
    cancelled: Callable[[], bool] = lambda: False
    log: Callable[[str], None] = print
    save_model: bool = True
    preflight_only: bool = False  # measure and estimate, then stop before the first step


@dataclass
class LoopState:
    """Everything besides tensors that a resumed run needs to continue exactly."""

    step: int = 0
    tokens: int = 0
    seconds: float = 0.0
    best_val: float | None = None
    best_step: int | None = None
    bad_evals: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


def loss_module(model: Any) -> Any:
    """Wrap ``model`` so forward returns (summed loss, trained-token count) on assistant tokens only."""
    import torch

    class AssistantLoss(torch.nn.Module):
        def __init__(self, lm: Any) -> None:
            super().__init__()
            self.lm = lm

        def forward(self, input_ids: Any, attention_mask: Any, labels: Any) -> tuple[Any, Any]:
            base = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm
            hidden = base.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            targets = labels[:, 1:]
            keep = targets != IGNORE
            logits = base.get_output_embeddings()(hidden[:, :-1][keep]).float()
            loss = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="sum")
            return loss, keep.sum()

    return AssistantLoss(model)


def load_base(opts: CausalLMOptions) -> tuple[Any, Any]:
    """The base model in fp32 (autocast adds bf16 on GPUs) in train mode, and its tokenizer."""
    import torch

    from workbench.models import load_causal_lm

    model, tokenizer = load_causal_lm(opts.model, device="cpu", padding_side="right", dtype=torch.float32)
    if hasattr(model, "merge_and_unload"):  # an adapter folder: continue from the merged model
        model = model.merge_and_unload()
    model.config.use_cache = False
    return model.train(), tokenizer


def tokenise(tokenizer: Any, rows: Sequence[dict[str, Any]], max_length: int, split: str) -> tuple[list[Example], int]:
    try:
        return build_examples(tokenizer, rows, max_length)
    except ValueError as exc:
        raise WorkbenchError(f"{split} split: {exc}") from exc


class Plan:
    """Which micro-batches each process runs at each optimiser step, epoch by epoch."""

    def __init__(self, examples: Sequence[Example], opts: CausalLMOptions, seed: int, rank: int, world: int) -> None:
        self.lengths = [len(e.input_ids) for e in examples]
        self.opts, self.seed, self.rank, self.world = opts, seed, rank, world
        self.per_step = opts.grad_accum * world
        self.steps_per_epoch = max(1, math.ceil(len(self.epoch(0)) / self.per_step))
        self.total = opts.max_steps or max(1, math.ceil(opts.epochs * self.steps_per_epoch))

    def epoch(self, index: int) -> list[list[int]]:
        batches = plan_batches(self.lengths, self.opts.batch_size, self.opts.batching, self.seed, index)
        short = -len(batches) % self.per_step  # every process runs the same number of micro-batches
        return batches + batches[:short]

    def micro_batches(self, step: int) -> list[list[int]]:
        epoch, within = divmod(step, self.steps_per_epoch)
        mine = self.epoch(epoch)[self.rank::self.world]
        return mine[within * self.opts.grad_accum:(within + 1) * self.opts.grad_accum]


@dataclass
class TrainResult:
    stats: dict[str, Any]
    model: Any  # the trained model in memory (adapters not merged)


def train(job: TrainJob) -> TrainResult:
    """Train, write the model folder and logs into ``job.out_dir``; return stats and model."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, set_seed

    from workbench.device import pick_device
    from workbench.training.schedule import make_scheduler

    opts = job.options
    seed = job.seed if opts.seed is None else opts.seed
    device, dtype = pick_device(opts.device)
    if device == "cpu":
        torch.set_num_threads(opts.threads or free_cores())
    # processes run different numbers of forward passes (chunks, validation shares): no per-forward buffer sync
    ddp = DistributedDataParallelKwargs(broadcast_buffers=False)
    accelerator = Accelerator(cpu=device == "cpu", mixed_precision="bf16" if dtype == torch.bfloat16 else "no",
                              kwargs_handlers=[ddp])
    set_seed(seed)
    main = accelerator.is_main_process
    out = job.out_dir
    model, tokenizer = load_base(opts)
    train_ex, skipped = tokenise(tokenizer, job.train_rows, opts.max_length, "train")
    val_ex, _ = tokenise(tokenizer, job.val_rows, opts.max_length, "validation")
    if not train_ex:
        raise WorkbenchError("no training examples with assistant tokens to learn from",
                             hint="the table needs rows with split = 'train' and at least one assistant turn")
    model = methods.prepare_model(model, opts)
    plan = Plan(train_ex, opts, seed, accelerator.process_index, accelerator.num_processes)
    pad_to = opts.max_length if opts.batching == "padded" else None
    optimizer = torch.optim.AdamW(methods.param_groups(model, opts), lr=opts.learning_rate)
    scheduler = make_scheduler(optimizer, plan.total, opts)
    wrapped, optimizer = accelerator.prepare(loss_module(model), optimizer)
    unwrapped = accelerator.unwrap_model(wrapped).lm

    def batch_of(examples: Sequence[Example], idx: Sequence[int]) -> dict[str, Any]:
        return {k: v.to(accelerator.device) for k, v in collate([examples[i] for i in idx], tokenizer.pad_token_id, pad_to).items()}

    def forward_backward(idx: Sequence[int], scale: float, sync: bool) -> tuple[float, int]:
        """Mean loss over the micro-batch's trained tokens, run in chunks of at most max_batch_tokens."""
        chunks = split_by_tokens(idx, [len(e.input_ids) for e in train_ex], opts.max_batch_tokens, pad_to)
        trained = max(sum(train_ex[i].trained_tokens for i in idx), 1)
        loss_total, tokens = 0.0, 0
        for c, chunk in enumerate(chunks):
            batch = batch_of(train_ex, chunk)
            last = sync and c == len(chunks) - 1
            with (nullcontext() if last else accelerator.no_sync(wrapped)), accelerator.autocast():
                loss_sum, _ = wrapped(**batch)
            accelerator.backward(loss_sum * (scale / trained))
            loss_total += float(loss_sum.detach())
            tokens += int(batch["attention_mask"].sum())
        return loss_total / trained, tokens

    ckpt_root = out / "checkpoints"
    state = LoopState()
    resumed_from = None if job.preflight_only else checkpoint.latest(ckpt_root)
    if resumed_from:
        weights, opt_state, saved = checkpoint.load(resumed_from)
        methods.load_trainable_state(unwrapped, weights)
        optimizer.load_state_dict(opt_state["optimizer"])
        scheduler.load_state_dict(opt_state["scheduler"])
        state = LoopState(**saved)
        job.log(f"train: resuming from {resumed_from.name} (step {state.step} of {plan.total})")
    else:
        epoch0 = plan.epoch(0)
        widest = sorted(epoch0, key=lambda b: -max(plan.lengths[i] for i in b))

        def probe(idx: Sequence[int]) -> int:
            forward_backward(idx, 0.0, True)
            return len(idx) * (pad_to or max(plan.lengths[i] for i in idx))

        per_token = preflight.measure_seconds_per_token(probe, widest, opts.warmup_probe_steps)
        optimizer.zero_grad(set_to_none=True)
        figures = preflight.estimate(train_ex, epoch0, model=unwrapped, pad_to=pad_to, steps=plan.total,
                                     micro_per_step=opts.grad_accum, seconds_per_token=per_token,
                                     max_batch_tokens=opts.max_batch_tokens)
        figures["skipped_examples"] = skipped
        if main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "preflight.json").write_text(json.dumps(figures, indent=1))
        job.log(preflight.summary(figures))
        if job.preflight_only:
            return TrainResult(figures, unwrapped)

    def evaluate() -> float | None:
        if not val_ex:
            return None
        wrapped.eval()
        total = torch.zeros(2, device=accelerator.device)
        batches = plan_batches([len(e.input_ids) for e in val_ex], opts.batch_size, "length-grouped", 0, 0)
        with torch.no_grad():
            for idx in batches[accelerator.process_index::accelerator.num_processes]:
                with accelerator.autocast():
                    loss_sum, n = wrapped(**batch_of(val_ex, idx))
                total += torch.stack([loss_sum.float(), n.float()])
        wrapped.train()
        total = accelerator.reduce(total, reduction="sum")
        return float(total[0] / total[1].clamp(min=1))

    def best_path() -> Path:
        return ckpt_root / "best.pt"

    def save_checkpoint() -> None:
        if main:
            checkpoint.save(ckpt_root, state.step, weights=methods.trainable_state(unwrapped), optimizer=optimizer,
                            scheduler=scheduler, state=vars(state), keep=opts.keep_checkpoints)
        accelerator.wait_for_everyone()

    writer = _tensorboard(out / "tensorboard") if main else None
    params = [p for p in unwrapped.parameters() if p.requires_grad]
    bar = job.progress(plan.total, "train") if (job.progress and main) else nullcontext()
    with bar:
        if state.step and hasattr(bar, "update"):
            bar.update(state.step, resumed=state.step)
        while state.step < plan.total and not state.stopped_early:
            started = time.perf_counter()
            micro = plan.micro_batches(state.step)
            losses, tokens = [], 0
            for k, idx in enumerate(micro):
                loss, n = forward_backward(idx, 1 / len(micro), sync=k == len(micro) - 1)
                losses.append(loss)
                tokens += n
            if opts.max_grad_norm:
                accelerator.clip_grad_norm_(params, opts.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            seconds = time.perf_counter() - started
            state.seconds += seconds
            state.tokens += tokens * accelerator.num_processes
            record: dict[str, Any] = {"step": state.step, "loss": sum(losses) / len(losses),
                                      "lr": scheduler.get_last_lr()[0], "tokens_per_second": tokens / seconds}
            end_of_epoch = state.step % plan.steps_per_epoch == 0
            if (opts.eval_every and state.step % opts.eval_every == 0) or (not opts.eval_every and end_of_epoch) \
                    or state.step == plan.total:
                record["val_loss"] = evaluate()
                _early_stopping(state, record["val_loss"], opts)
                if main and record["val_loss"] is not None and state.best_step == state.step and opts.restore_best:
                    ckpt_root.mkdir(parents=True, exist_ok=True)
                    torch.save(methods.trainable_state(unwrapped), best_path())
            state.history.append(record)
            if writer:
                for key, value in record.items():
                    if key != "step" and value is not None:
                        writer.add_scalar(f"train/{key}", value, state.step)
            if hasattr(bar, "update"):
                bar.update(1, loss=record["loss"], tok_s=round(record["tokens_per_second"], 1),
                           **({"val": record["val_loss"]} if record.get("val_loss") is not None else {}))
            stop = _agreed(accelerator, job.cancelled())
            if stop or (opts.checkpoint_every and state.step % opts.checkpoint_every == 0 and state.step < plan.total):
                save_checkpoint()
            if stop:
                raise TrainingCancelled(f"training cancelled at step {state.step}; run the step again to resume")
    if writer:
        writer.close()
    if opts.restore_best and best_path().exists() and state.best_step != state.step:
        methods.load_trainable_state(unwrapped, torch.load(best_path(), map_location="cpu", weights_only=True))
    stats = _stats(state, train_ex, val_ex, skipped, accelerator.num_processes, resumed_from)
    if main and job.save_model:
        stats["saved_as"] = methods.save_model(unwrapped, tokenizer, out / "model", merge=opts.merge)
        (out / "history.json").write_text(json.dumps(state.history, indent=1))
        shutil.rmtree(ckpt_root, ignore_errors=True)  # the saved model supersedes them; full-model ones are large
    accelerator.wait_for_everyone()
    return TrainResult(stats, unwrapped)


def estimate(job: TrainJob) -> dict[str, Any]:
    """The pre-flight figures of ``job`` (tokens, steps, memory, expected time) without training it."""
    from dataclasses import replace

    return train(replace(job, preflight_only=True, save_model=False)).stats


def _agreed(accelerator: Any, flag: bool) -> bool:
    """One decision for all processes (any process seeing a cancel stops them all)."""
    if accelerator.num_processes == 1:
        return flag
    import torch

    value = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(value, reduction="sum").item() > 0)


def _early_stopping(state: LoopState, val: float | None, opts: CausalLMOptions) -> None:
    if val is None:
        return
    if state.best_val is None or val < state.best_val - opts.early_stopping_min_delta:
        state.best_val, state.best_step, state.bad_evals = val, state.step, 0
        return
    state.bad_evals += 1
    if opts.early_stopping_patience and state.bad_evals >= opts.early_stopping_patience:
        state.stopped_early = True


def _tensorboard(folder: Path) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(folder))


def _stats(state: LoopState, train_ex: list[Example], val_ex: list[Example], skipped: int, world: int,
           resumed_from: Path | None) -> dict[str, Any]:
    last = state.history[-1] if state.history else {}
    vals = [h["val_loss"] for h in state.history if h.get("val_loss") is not None]
    return {
        "steps": state.step,
        "final_train_loss": last.get("loss"),
        "final_val_loss": vals[-1] if vals else None,
        "best_val_loss": state.best_val,
        "best_step": state.best_step,
        "stopped_early": state.stopped_early,
        "train_examples": len(train_ex),
        "validation_examples": len(val_ex),
        "skipped_examples": skipped,
        "tokens": state.tokens,
        "train_seconds": round(state.seconds, 2),
        "tokens_per_second": round(state.tokens / state.seconds, 1) if state.seconds else None,
        "processes": world,
        "resumed_from_step": int(resumed_from.name.split("-")[1]) if resumed_from else None,
    }
