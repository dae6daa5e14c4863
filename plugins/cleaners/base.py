"""Shared shape of the cleaners that rewrite turn text in named stages.

A text cleaner lists its stages (name, rule on a string expression, and a
regex that is true for every text the rule could change); the base runs them
in order on the shielded contents of the chosen roles, each rule only on the
turns its regex selects (NFKC only on non-ASCII text, whitespace collapse only
where there is something to collapse), records each changed row once with the
stages that changed it, and marks ``origin``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import polars as pl

from workbench.components import Cleaner
from workbench.context import StepContext
from workbench.ledger import Ledger, StepResult

from .turns import ROW, SHIELDED, explode_turns, implode_turns, ledger_entries, mark_origin, shield, unshield

Rule = Callable[[pl.Expr], pl.Expr]


class Stage(NamedTuple):
    """A named text rule; ``may_change`` is a regex true for every text the rule could change
    (a cheap superset test), so the rule only runs on the turns that need it."""

    name: str
    rule: Rule
    may_change: str | None = None


def run_on(values: pl.Series, rule: Rule) -> pl.Series:
    return pl.DataFrame({"v": values}).select(rule(pl.col("v"))).to_series()


class TextCleaner(Cleaner):
    """A cleaner made of ordered text stages; subclasses define ``stages`` and ``roles``."""

    reason = "text changed"

    def stages(self) -> Sequence[Stage | tuple[str, Rule]]:
        raise NotImplementedError

    def roles(self) -> list[str] | None:
        """Roles whose turns are rewritten (None: all)."""
        return None

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        import numpy as np

        stages = [Stage(*stage) for stage in self.stages()]
        ledger = Ledger(self.name)
        if not stages or table.height == 0:
            return StepResult(table, ledger.frame(), stats={"changed_rows": 0})
        turns = explode_turns(table)
        text = turns.get_column("content").fill_null("")
        wanted = self.roles()
        selected = pl.Series([True] * turns.height, dtype=pl.Boolean) if wanted is None else turns.get_column("role").is_in(wanted)
        # placeholders become single private-use characters while the rules run (only turns that have brackets)
        shielded = selected & text.str.contains("[", literal=True)
        text = _apply(text, shielded, shield)
        changed_turns = []
        for stage in stages:
            candidates = selected if stage.may_change is None else selected & text.str.contains(stage.may_change)
            at = candidates.arg_true()
            before = text.gather(at)
            after = run_on(before, stage.rule)
            text = text.scatter(at, after) if len(at) else text
            changed_turns.append(at.filter((after != before).fill_null(True)))
        text = _apply(text, shielded & text.str.contains(SHIELDED), unshield)
        turn_rows = turns.get_column(ROW).to_numpy()
        flags = np.zeros((table.height, len(stages)), dtype=bool)
        for i, at in enumerate(changed_turns):
            flags[turn_rows[at.to_numpy()], i] = True
        stage_cols = [f"__s{i}" for i in range(1, len(stages) + 1)]
        flag_frame = pl.DataFrame(flags, schema=stage_cols)
        mask = pl.Series(flags.any(axis=1))
        names = [pl.when(pl.col(c)).then(pl.lit(f'"{stage.name}"')) for c, stage in zip(stage_cols, stages)]
        detail = pl.concat_str([pl.lit('{"stages":['), pl.concat_str(names, separator=",", ignore_nulls=True), pl.lit("]}")])
        annotated = pl.concat([table, flag_frame], how="horizontal")
        ledger.extend(ledger_entries(annotated, mask, "changed", self.reason, detail))
        stats = {"changed_rows": int(mask.sum()),
                 "rows_by_stage": {stage.name: int(flags[:, i].sum()) for i, stage in enumerate(stages)}}
        if not mask.any():
            return StepResult(table, ledger.frame(), stats=stats)
        turns = turns.with_columns(text.alias("content").cast(pl.Utf8))
        out = mark_origin(implode_turns(table, turns.select(ROW, "role", "content", "weight")), mask, self.name)
        return StepResult(out, ledger.frame(), stats=stats)


def _apply(text: pl.Series, where: pl.Series, rule: Rule) -> pl.Series:
    """``rule`` on the texts under ``where``, the others unchanged."""
    at = where.arg_true()
    return text.scatter(at, run_on(text.gather(at), rule)) if len(at) else text
