"""The ``hf-causal-lm`` trainer: fine-tunes a chat model on the table's train split.

Options and methods: :mod:`workbench.training.options`; the loop:
:mod:`workbench.training.loop`. The table passes through unchanged; the model
folder is the ``model`` artifact (``train.model`` for later steps).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from workbench.components import Trainer
from workbench.context import StepContext
from workbench.ledger import StepResult
from workbench.training.options import CausalLMOptions


def split_rows(table: pl.DataFrame, split: str) -> list[dict[str, Any]]:
    columns = [c for c in ("id", "messages", "label") if c in table.columns]
    return table.filter(pl.col("split") == split).select(columns).to_dicts()


class CausalLMTrainer(Trainer):
    name = "hf-causal-lm"
    description = "Fine-tune a Hugging Face chat model (LoRA, full or head) with assistant-only loss"
    version = "1"
    Options = CausalLMOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        from workbench.errors import WorkbenchError
        from workbench.evaluation.cache import shared_cache_dir
        from workbench.training.grid import run_grid
        from workbench.training.loop import TrainJob, train

        train_rows, val_rows = split_rows(table, "train"), split_rows(table, "validation")
        if not train_rows:
            raise WorkbenchError("the table has no rows with split = 'train'",
                                 hint="add a split step before the train step")
        job = TrainJob(self.options, train_rows, val_rows, ctx.step_dir, seed=ctx.seed, progress=ctx.progress,
                       cancelled=ctx.cancelled, log=ctx.log,
                       answer_cache=shared_cache_dir(ctx.run_dir) if ctx.run_dir else None)
        if self.options.grid:
            stats = run_grid(job)
        else:
            stats = train(job).stats
        return StepResult(table, stats=stats, artifacts={"model": "model", "tensorboard": "tensorboard"})
