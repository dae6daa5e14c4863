"""Shared shape of the cleaners that rewrite turn text in named stages.

A text cleaner lists its stages (name, rule on a string expression); the base
runs them in order on the shielded contents of the chosen roles, records each
changed row once with the stages that changed it, and marks ``origin``.
"""

from __future__ import annotations

from typing import Callable

import polars as pl

from workbench.components import Cleaner
from workbench.ledger import Ledger, StepResult

from .turns import ROW, explode_turns, implode_turns, ledger_entries, mark_origin, per_row, shield, unshield

Rule = Callable[[pl.Expr], pl.Expr]


class TextCleaner(Cleaner):
    """A cleaner made of ordered text stages; subclasses define ``stages`` and ``roles``."""

    reason = "text changed"

    def stages(self) -> list[tuple[str, Rule]]:
        raise NotImplementedError

    def roles(self) -> list[str] | None:
        """Roles whose turns are rewritten (None: all)."""
        return None

    def run(self, table: pl.DataFrame, ctx) -> StepResult:
        stages = self.stages()
        ledger = Ledger(self.name)
        if not stages or table.height == 0:
            return StepResult(table, ledger.frame(), stats={"changed_rows": 0})
        turns = explode_turns(table).with_columns(pl.col("content").fill_null("").alias("__c0"))
        wanted = self.roles()
        selected = pl.lit(True) if wanted is None else pl.col("role").is_in(wanted)
        turns = turns.with_columns(pl.when(selected).then(shield(pl.col("__c0"))).otherwise(pl.col("__c0")).alias("__c0"))
        for i, (_, rule) in enumerate(stages, start=1):
            prev = pl.col(f"__c{i - 1}")
            turns = turns.with_columns(pl.when(selected).then(rule(prev)).otherwise(prev).alias(f"__c{i}"))
        last = f"__c{len(stages)}"
        turns = turns.with_columns(
            pl.when(selected).then(unshield(pl.col(last))).otherwise(pl.col(last)).alias("content"),
            *[(pl.col(f"__c{i}") != pl.col(f"__c{i - 1}")).alias(f"__s{i}") for i in range(1, len(stages) + 1)],
        )
        by_row = turns.group_by(ROW).agg([pl.col(f"__s{i}").any() for i in range(1, len(stages) + 1)])
        flags = per_row(table.height, by_row).fill_null(False)
        stage_cols = [f"__s{i}" for i in range(1, len(stages) + 1)]
        mask = flags.select(pl.any_horizontal(stage_cols)).to_series()
        names = [pl.when(pl.col(c)).then(pl.lit(f'"{name}"')) for c, (name, _) in zip(stage_cols, stages)]
        detail = pl.concat_str([pl.lit('{"stages":['), pl.concat_str(names, separator=",", ignore_nulls=True), pl.lit("]}")])
        annotated = pl.concat([table, flags.select(stage_cols)], how="horizontal")
        ledger.extend(ledger_entries(annotated, mask, "changed", self.reason, detail))
        out = mark_origin(implode_turns(table, turns.select(ROW, "role", "content", "weight")), mask, self.name)
        stats = {"changed_rows": int(mask.sum()),
                 "rows_by_stage": {name: int(flags[c].sum()) for c, (name, _) in zip(stage_cols, stages)}}
        return StepResult(out, ledger.frame(), stats=stats)
