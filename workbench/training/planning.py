"""Pre-flight figures the Train page shows before a job starts.

OpenAI: billed tokens and cost from :func:`workbench.training.estimate.estimate`.
Local: examples, approximate tokens and optimiser steps from the options;
the trainer measures the real step time when it starts and writes
``preflight.json`` into its step folder, which the page shows while it runs.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from workbench.io.validate import CHARS_PER_TOKEN, TOKENS_PER_TURN
from workbench.training.sizing import choose_epochs


def training_rows(table: pl.DataFrame) -> pl.DataFrame:
    """Rows the trainers learn from: the train split, or every row before a split step ran."""
    if "split" in table.columns and table["split"].is_not_null().any():
        return table.filter(pl.col("split") == "train")
    return table


def _conversations(table: pl.DataFrame) -> list[list[dict[str, Any]]]:
    return [[{"role": m["role"], "content": m["content"] or ""} for m in ms] for ms in table["messages"].to_list()]


def openai_estimate(table: pl.DataFrame, options: dict[str, Any]) -> str:
    """One line: tokens per example, billed tokens, epochs, cost."""
    from workbench.training.estimate import estimate

    kwargs = {"model": options.get("model"), "epochs": options.get("n_epochs"),
              "max_tokens_per_example": options.get("max_tokens_per_example"), "prices": options.get("prices")}
    return estimate(_conversations(training_rows(table)), **{k: v for k, v in kwargs.items() if v}).summary()


def local_estimate(table: pl.DataFrame, options: dict[str, Any]) -> dict[str, Any]:
    """Examples, approximate tokens per epoch and optimiser steps of a local training run."""
    rows = training_rows(table)
    tokens = sum(math.ceil(len(m["content"] or "") / CHARS_PER_TOKEN) + TOKENS_PER_TURN
                 for ms in rows["messages"].to_list() for m in ms)
    per_step = max(1, int(options.get("batch_size", 8)) * int(options.get("grad_accum", 1)))
    max_steps = int(options.get("max_steps") or 0)
    epochs, why = choose_epochs(rows.height, options.get("epochs"), max_steps)
    steps = max_steps or math.ceil(math.ceil(rows.height / per_step) * epochs)
    return {"examples": rows.height, "approx_tokens_per_epoch": tokens, "optimizer_steps": steps,
            "epochs_reason": why, "model": options.get("model"), "method": options.get("method")}


def local_preflight(table: pl.DataFrame, options: dict[str, Any], ctx: Any = None) -> dict[str, Any]:
    """The local trainer's own pre-flight (:func:`workbench.training.loop.estimate`): loads the model, plans the
    batches and times a short warm-up, training nothing. Tokens per epoch, optimiser steps, memory, expected time.

    With a step context (``ctx``, e.g. from :func:`workbench.ui_support.tasks.start`) the warm-up reports its
    progress through ``ctx.progress`` and stops when ``ctx.cancelled()``."""
    import tempfile
    from pathlib import Path

    from workbench.training.loop import TrainJob, estimate
    from workbench.training.options import CausalLMOptions

    rows = training_rows(table).select("id", "messages").to_dicts()
    val = (table.filter(pl.col("split") == "validation").select("id", "messages").to_dicts()
           if "split" in table.columns else [])
    with tempfile.TemporaryDirectory(prefix="wb-preflight-") as out:
        hooks = {"progress": ctx.progress, "cancelled": ctx.cancelled} if ctx is not None else {}
        job = TrainJob(CausalLMOptions.model_validate(options), rows, val, Path(out), log=lambda _m: None, **hooks)
        return estimate(job)


def preflight_figures(figures: dict[str, Any]) -> dict[str, str]:
    """The pre-flight figures as labelled, readable values (for the page's metric tiles)."""
    def n(key: str) -> str:
        value = figures.get(key)
        return f"{value:,}" if isinstance(value, (int, float)) else "—"

    seconds = figures.get("expected_seconds")
    memory = figures.get("memory_bytes")
    out = {"examples": n("examples"), "tokens per epoch": n("tokens_per_epoch" if "tokens_per_epoch" in figures else "approx_tokens_per_epoch"),
           "optimiser steps": n("optimizer_steps"),
           "memory": f"{memory / 2**30:.2f} GiB" if isinstance(memory, (int, float)) else "—",
           "expected time": (f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s") if seconds else "not measured"}
    if figures.get("trainable_parameters") is not None:
        out["trained weights"] = f"{n('trainable_parameters')} of {n('parameters')}"
    if figures.get("padding_fraction") is not None:
        out["padding"] = f"{figures['padding_fraction']:.0%}"
    if figures.get("decision_tokens"):
        out["decision tokens"] = n("decision_tokens")
    if figures.get("epochs_reason"):
        out["epochs"] = figures["epochs_reason"]
    return out
