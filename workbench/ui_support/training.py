"""Pre-flight figures the Train page shows before a job starts.

OpenAI: billed tokens and cost from :func:`workbench.estimate.estimate`.
Local: examples, approximate tokens and optimiser steps from the options;
the trainer measures the real step time when it starts and writes
``preflight.json`` into its step folder, which the page shows while it runs.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from workbench.validate import CHARS_PER_TOKEN, TOKENS_PER_TURN


def training_rows(table: pl.DataFrame) -> pl.DataFrame:
    """Rows the trainers learn from: the train split, or every row before a split step ran."""
    if "split" in table.columns and table["split"].is_not_null().any():
        return table.filter(pl.col("split") == "train")
    return table


def _conversations(table: pl.DataFrame) -> list[list[dict[str, Any]]]:
    return [[{"role": m["role"], "content": m["content"] or ""} for m in ms] for ms in table["messages"].to_list()]


def openai_estimate(table: pl.DataFrame, options: dict[str, Any]) -> str:
    """One line: tokens per example, billed tokens, epochs, cost."""
    from workbench.estimate import estimate

    kwargs = {"model": options.get("model"), "epochs": options.get("n_epochs"),
              "max_tokens_per_example": options.get("max_tokens_per_example"), "prices": options.get("prices")}
    return estimate(_conversations(training_rows(table)), **{k: v for k, v in kwargs.items() if v}).summary()


def local_estimate(table: pl.DataFrame, options: dict[str, Any]) -> dict[str, Any]:
    """Examples, approximate tokens per epoch and optimiser steps of a local training run."""
    rows = training_rows(table)
    tokens = sum(math.ceil(len(m["content"] or "") / CHARS_PER_TOKEN) + TOKENS_PER_TURN
                 for ms in rows["messages"].to_list() for m in ms)
    per_step = max(1, int(options.get("batch_size", 8)) * int(options.get("grad_accum", 1)))
    steps = int(options.get("max_steps") or 0) or math.ceil(math.ceil(rows.height / per_step) * float(options.get("epochs", 1)))
    return {"examples": rows.height, "approx_tokens_per_epoch": tokens, "optimizer_steps": steps,
            "model": options.get("model"), "method": options.get("method")}
