"""Structure repair: system turn first, consecutive same-role turns merged,
trailing user turns without an answer dropped. Each repair is an option and
each changed row is recorded with the counts of what was repaired.
"""

from __future__ import annotations

import polars as pl
from pydantic import Field

from workbench.components import Cleaner, Options
from workbench.context import StepContext
from workbench.ledger import Ledger, StepResult

from .turns import ROW, TURN, explode_turns, implode_turns, ledger_entries, mark_origin, per_row


class StructureOptions(Options):
    system_first: bool = Field(default=True, description="Move system turns to the front (keeping their order)")
    merge_consecutive: bool = Field(default=True, description="Merge consecutive turns of the same role into one (blank line between)")
    drop_trailing_user: bool = Field(default=True, description="Drop user turns at the end that have no answer")


class RepairStructure(Cleaner):
    name = "structure"
    row_wise = True
    description = "Move the system turn first, merge consecutive same-role turns, drop unanswered trailing user turns"
    Options = StructureOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        o = self.options
        turns = explode_turns(table)
        counts = turns.group_by(ROW).agg(pl.len().alias("__before"))
        moved = pl.DataFrame(schema={ROW: pl.UInt32, "__moved": pl.Boolean})
        if o.system_first:
            is_system = (pl.col("role") == "system")
            moved = turns.group_by(ROW).agg((is_system & (pl.col(TURN) > is_system.cast(pl.UInt32).cum_sum() - 1)).any().alias("__moved"))
            turns = turns.sort(ROW, ~is_system, TURN).with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over(ROW).alias(TURN))
        if o.merge_consecutive:  # only rows with two same-role turns in a row are grouped
            same = ((pl.col("role") == pl.col("role").shift(1)) & (pl.col(ROW) == pl.col(ROW).shift(1))).fill_null(False)
            turns = turns.with_columns(same.alias("__same"))
            merging = pl.col(ROW).is_in(turns.filter(pl.col("__same")).get_column(ROW).unique().implode())
            merged_runs = (turns.filter(merging).with_columns((~pl.col("__same")).cum_sum().alias("__run"))
                           .group_by(ROW, "__run", maintain_order=True)
                           .agg(pl.col("role").first(), pl.col("content").str.join("\n\n"), pl.col("weight").max(), pl.col(TURN).first()))
            turns = pl.concat([turns.filter(~merging).select(ROW, "role", "content", "weight", TURN),
                               merged_runs.select(ROW, "role", "content", "weight", TURN)]).sort(ROW, TURN)
        merged = turns.group_by(ROW).agg(pl.len().alias("__merged"))
        if o.drop_trailing_user:
            # a trailing user block is every user turn after the last non-user turn
            last_other = pl.when(pl.col("role") != "user").then(pl.col(TURN)).max().over(ROW)
            turns = turns.filter((pl.col("role") != "user") | (pl.col(TURN) < last_other.fill_null(-1)))
        after = turns.group_by(ROW).agg(pl.len().alias("__after"))
        flags = (per_row(table.height, counts, merged, after, moved).fill_null(0)
                 .with_columns((pl.col("__before") - pl.col("__merged")).alias("__n_merged"),
                               (pl.col("__merged") - pl.col("__after")).alias("__n_dropped"),
                               pl.col("__moved").cast(pl.Boolean).fill_null(False)))
        mask = flags.select((pl.col("__n_merged") > 0) | (pl.col("__n_dropped") > 0) | pl.col("__moved")).to_series()
        annotated = pl.concat([table, flags.select("__n_merged", "__n_dropped", "__moved")], how="horizontal")
        detail = pl.format('{{"system_moved":{},"turns_merged":{},"trailing_user_dropped":{}}}',
                           pl.col("__moved"), pl.col("__n_merged"), pl.col("__n_dropped"))
        ledger = Ledger(self.name)
        ledger.extend(ledger_entries(annotated, mask, "changed", "structure repaired", detail))
        rebuilt = implode_turns(table, turns.sort(ROW, TURN).select(ROW, "role", "content", "weight"))
        stats = {"changed_rows": int(mask.sum()), "turns_merged": int(flags["__n_merged"].sum()),
                 "trailing_user_dropped": int(flags["__n_dropped"].sum()), "system_moved": int(flags["__moved"].sum())}
        return StepResult(mark_origin(rebuilt, mask, self.name), ledger.frame(), stats=stats)
