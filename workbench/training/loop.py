"""Training a chat model: accelerate-driven, checkpointed, observable, cancellable.

The step loop itself (checkpoints, resume, validation, early stopping,
progress, cancellation, DDP/FSDP through ``accelerate``) is the shared
:class:`~workbench.training.runner.Runner`; this module adds what is
particular to chat models: the chat-template examples, token-budget chunks,
the pre-flight estimate and the saved model folder. The loss is computed on
assistant tokens only, and the output head runs only at those positions (on a
49k-token vocabulary the head is a fifth of SmolLM2's compute, spent for
nothing on prompt tokens).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.training import methods, preflight, runner
from workbench.training.batching import collate, split_by_tokens
from workbench.training.chat import IGNORE, Example, build_examples
from workbench.training.decisions import decision_contexts, weigh_decisions
from workbench.training.options import CausalLMOptions
from workbench.training.rehearsal import rehearsal_rows
from workbench.training.runner import LoopState, Runner, TrainingCancelled

__all__ = ["LoopState", "TrainJob", "TrainResult", "TrainingCancelled", "estimate", "load_base", "loss_module", "train"]


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
    answer_cache: Path | None = None  # the runs folder's generation cache, for the rehearsal answers


def assistant_loss(lm: Any, input_ids: Any, attention_mask: Any, labels: Any,
                   weights: Any = None) -> tuple[Any, Any]:
    """Summed cross-entropy on assistant tokens only, each times its weight, and the summed weights (the token
    count when unweighted); the head runs only at those positions."""
    import torch

    base = lm.get_base_model() if hasattr(lm, "get_base_model") else lm
    hidden = base.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = base.get_output_embeddings()(hidden[:, :-1][keep]).float()
    losses = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="none")
    weight = torch.ones_like(losses) if weights is None else weights[:, 1:][keep]
    return (losses * weight).sum(), weight.sum()


def loss_module(model: Any) -> Any:
    """Wrap ``model`` so forward returns (summed loss, trained-token count) on assistant tokens only."""
    return runner.loss_module(model, assistant_loss)


def load_base(opts: CausalLMOptions) -> tuple[Any, Any]:
    """The base model in fp32 (autocast adds bf16 on GPUs) in train mode, and its tokenizer."""
    import torch

    from workbench.lm.models import load_causal_lm

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


@dataclass
class TrainResult:
    stats: dict[str, Any]
    model: Any  # the trained model in memory (adapters not merged; under FSDP, this process's shard)
    state_dict: Callable[[], dict[str, Any]]  # its whole weights (under FSDP every process must call it: a gather)


class ChatRun(Runner):
    """A causal chat model on assistant-token loss, in chunks of at most ``max_batch_tokens``."""

    def __init__(self, job: TrainJob) -> None:
        opts = job.options
        super().__init__(opts, job.out_dir, seed=job.seed if opts.seed is None else opts.seed, progress=job.progress,
                         cancelled=job.cancelled, log=job.log)
        model, self.tokenizer = load_base(opts)
        rehearsal = [] if job.preflight_only else rehearsal_rows(
            opts.model, opts.rehearsal, len(job.train_rows), job.out_dir, self.seed, job.progress, job.log,
            job.answer_cache)
        self.rehearsal_rows = len(rehearsal)
        task_ex, self.skipped = tokenise(self.tokenizer, job.train_rows, opts.max_length, "train")
        if not task_ex:
            raise WorkbenchError("no training examples with assistant tokens to learn from",
                                 hint="the table needs rows with split = 'train' and at least one assistant turn")
        rehearsal_ex, _ = tokenise(self.tokenizer, rehearsal, opts.max_length, "rehearsal")
        self.train_ex = task_ex + rehearsal_ex
        self.val_ex, _ = tokenise(self.tokenizer, job.val_rows, opts.max_length, "validation")
        self.decision_tokens = 0
        if opts.decision_weight != 1:  # contexts from the task's answers; validation weighs alike, so its loss is the same
            contexts = decision_contexts(task_ex)
            self.decision_tokens = weigh_decisions(self.train_ex, contexts, opts.decision_weight)
            weigh_decisions(self.val_ex, contexts, opts.decision_weight)
        self.frozen_layers = methods.frozen_layers(opts, methods.num_layers(model))
        model = methods.prepare_model(model, opts)
        self.pad_to = opts.max_length if opts.batching == "padded" else None
        self.setup(model, loss_module(model), methods.param_groups(model, opts), opts.batching)

    def collate(self, examples: Sequence[Example]) -> dict[str, Any]:
        return collate(examples, self.tokenizer.pad_token_id, self.pad_to)

    def loss_terms(self, idx: Sequence[int]) -> float:
        return sum(self.train_ex[i].loss_weight for i in idx)

    def chunks(self, idx: Sequence[int]) -> list[list[int]]:
        return split_by_tokens(idx, self.plan.lengths, self.opts.max_batch_tokens, self.pad_to)

    def preflight(self) -> dict[str, Any]:
        """Measure forward and backward on the widest batches (no optimiser step) and estimate the run."""
        plan, opts = self.plan, self.opts
        epoch0 = plan.epoch(0)
        widest = sorted(epoch0, key=lambda b: -max(plan.lengths[i] for i in b))

        def probe(idx: Sequence[int]) -> int:
            self.forward_backward(idx, 0.0, True)
            return len(idx) * (self.pad_to or max(plan.lengths[i] for i in idx))

        per_token = preflight.measure_seconds_per_token(probe, widest, opts.warmup_probe_steps)
        self.optimizer.zero_grad(set_to_none=True)
        figures = preflight.estimate(self.train_ex, epoch0, model=self.model, pad_to=self.pad_to, steps=plan.total,
                                     micro_per_step=opts.grad_accum, seconds_per_token=per_token,
                                     max_batch_tokens=opts.max_batch_tokens)
        figures.update(skipped_examples=self.skipped, decision_tokens=self.decision_tokens, epochs_chosen=plan.epochs, epochs_reason=plan.epochs_reason,
                       frozen_layers=self.frozen_layers, layers=methods.num_layers(self.model),
                       eval_every=plan.eval_every, early_stopping_patience=opts.early_stopping_patience,
                       validation_examples=len(self.val_ex), threads=self.threads)
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "preflight.json").write_text(json.dumps(figures, indent=1))
        self.log(preflight.summary(figures))
        return figures

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "skipped_examples": self.skipped, "rehearsal_rows": self.rehearsal_rows,
                "decision_tokens": self.decision_tokens, "frozen_layers": self.frozen_layers}

    def fresh_model(self) -> Any:
        return methods.prepare_model(load_base(self.opts)[0], self.opts)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        return {"saved_as": methods.save_model(model, self.tokenizer, folder, merge=self.opts.merge)}


def train(job: TrainJob) -> TrainResult:
    """Train, write the model folder and logs into ``job.out_dir``; return stats and model."""
    run = ChatRun(job)
    if job.preflight_only or not run.resume():
        figures = run.preflight()
        if job.preflight_only:
            return TrainResult(figures, run.model, run.state_dict)
    run.fit()
    return TrainResult(run.finish(job.save_model), run.model, run.state_dict)


def estimate(job: TrainJob) -> dict[str, Any]:
    """The pre-flight figures of ``job`` (tokens, steps, memory, expected time) without training it."""
    from dataclasses import replace

    return train(replace(job, preflight_only=True, save_model=False)).stats
