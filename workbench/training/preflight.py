"""Pre-flight estimate: how big the job is and how long it will take, before it starts.

Tokens per epoch and padding come from the batch plan; memory from the
parameter counts (weights, gradients, AdamW state) plus activations of the
largest batch; time from a short measured warm-up (forward and backward on
the plan's largest batches, no optimiser step, so the model is unchanged).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from workbench.training.chat import Example

BYTES_FP32 = 4


def memory_bytes(model: Any, batch_tokens: int, trained_tokens: int) -> int:
    """Rough peak memory: weights + grads + AdamW moments + activations + logits."""
    cfg = model.config
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    hidden = getattr(cfg, "hidden_size", 0)
    layers = getattr(cfg, "num_hidden_layers", 0)
    inter = getattr(cfg, "intermediate_size", 4 * hidden)
    # stored for backward per token and layer, measured on SmolLM2 with LoRA: ~20 hidden + 5 MLP-wide vectors
    activations = batch_tokens * layers * (20 * hidden + 5 * inter) * BYTES_FP32
    logits = trained_tokens * getattr(cfg, "vocab_size", 0) * BYTES_FP32 * 3
    return (total + 3 * trainable) * BYTES_FP32 + activations + logits


def rounded_seconds(seconds: float) -> float:
    """To 0.1 s, but three significant figures below a second: a measured time stays positive (a tiny model's
    0.04 s rounded to 0.0, which read as "not measured")."""
    return round(seconds, 1) if seconds >= 1 else float(f"{seconds:.3g}")


def measure_seconds_per_token(run_batch: Callable[[Sequence[int]], int], batches: Sequence[Sequence[int]],
                              probes: int) -> float | None:
    """Seconds per computed token of forward + backward, timed on ``probes`` batches after one untimed.

    ``run_batch`` returns the number of padded positions it computed.
    """
    if probes <= 0 or not batches:
        return None
    run_batch(batches[0])  # the first call pays one-off costs (allocations, kernel selection)
    started, tokens = time.perf_counter(), 0
    for b in batches[:probes]:
        tokens += run_batch(b)
    return (time.perf_counter() - started) / max(tokens, 1)


def estimate(examples: Sequence[Example], plan: Sequence[Sequence[int]], *, model: Any, pad_to: int | None,
             steps: int, micro_per_step: int, seconds_per_token: float | None, max_batch_tokens: int) -> dict[str, Any]:
    """The pre-flight figures as a JSON-able dict (written to ``preflight.json``)."""
    real = sum(len(e.input_ids) for e in examples)
    widths = [pad_to or max(len(examples[i].input_ids) for i in b) for b in plan]
    computed = sum(w * len(b) for w, b in zip(widths, plan))
    biggest = max(range(len(plan)), key=lambda k: widths[k] * len(plan[k]))
    batch_tokens = min(widths[biggest] * len(plan[biggest]), max(max_batch_tokens, widths[biggest]))
    trained = sum(examples[i].trained_tokens for i in plan[biggest])
    micro_batches = steps * micro_per_step
    computed_total = computed * micro_batches / max(len(plan), 1)
    seconds = seconds_per_token * computed_total if seconds_per_token else None
    return {
        "examples": len(examples),
        "tokens_per_epoch": real,
        "trained_tokens_per_epoch": sum(e.trained_tokens for e in examples),
        "computed_tokens_per_epoch": computed,
        "padding_fraction": round(1 - real / computed, 4) if computed else 0.0,
        "optimizer_steps": steps,
        "micro_batches": micro_batches,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "memory_bytes": memory_bytes(model, batch_tokens, trained),
        "measured_tokens_per_second": round(1 / seconds_per_token, 1) if seconds_per_token else None,
        "expected_seconds": rounded_seconds(seconds) if seconds else None,
    }


def summary(figures: dict[str, Any]) -> str:
    eta = f"~{figures['expected_seconds'] / 60:.1f} min" if figures.get("expected_seconds") else "not measured"
    return (f"pre-flight: {figures['examples']} examples, {figures['tokens_per_epoch']} tokens/epoch "
            f"({figures['trained_tokens_per_epoch']} trained{_decisions(figures)}, {figures['padding_fraction']:.0%} padding), "
            f"{figures['optimizer_steps']} optimiser steps, {figures['trainable_parameters']:,} of "
            f"{figures['parameters']:,} weights train{_frozen(figures)}, ~{figures['memory_bytes'] / 2**30:.2f} GiB memory, "
            f"expected time {eta} at most{_stopping(figures)}; epochs: {figures.get('epochs_reason', 'not recorded')}")


def _decisions(figures: dict[str, Any]) -> str:
    """How many trained tokens choose between intents and weigh more (docs/training.md)."""
    count = figures.get("decision_tokens")
    return f", {count} of them decision tokens weighted more" if count else ""


def _frozen(figures: dict[str, Any]) -> str:
    """Which layers stay as the base model has them (docs/training.md, *Frozen lower half*)."""
    frozen = figures.get("frozen_layers")
    return f" (embeddings and lowest {frozen} of {figures.get('layers')} layers frozen)" if frozen else ""


def _stopping(figures: dict[str, Any]) -> str:
    """How early stopping may shorten the run, when it is on."""
    patience = figures.get("early_stopping_patience")
    if not patience or not figures.get("validation_examples"):
        return ""
    return (f" (validation every {figures['eval_every']} steps; stops after {patience} validations "
            f"without improvement)")
