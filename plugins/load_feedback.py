"""The ``feedback`` load component: testers' feedback from ``workbench serve`` as rows of a run."""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from workbench.components import Options, Step
from workbench.context import StepContext
from workbench.ledger import Ledger, StepResult


class LoadFeedbackOptions(Options):
    db: str = Field(default="runs/feedback.sqlite", description="The project's feedback store (relative to the run "
                    "file's folder)")
    rows: Literal["supervised", "preferences"] = Field(
        default="supervised", description="supervised: a training row per corrected answer; preferences: "
        "(prompt, chosen, rejected) pairs from A/B choices, corrections and ratings, for hf-dpo")
    append: bool = Field(default=False, description="Append to the table of the previous steps instead of replacing it")


class LoadFeedback(Step):
    name = "feedback"
    description = "Load testers' feedback (workbench serve) as supervised rows or preference pairs"
    Options = LoadFeedbackOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        from workbench import schema
        from workbench.errors import WorkbenchError
        from workbench.feedback.export import preference_pairs, supervised_rows
        from workbench.feedback.store import FeedbackStore

        path = ctx.resolve(self.options.db)
        if not path.exists():
            raise WorkbenchError(f"feedback store {path} does not exist",
                                 hint="collect feedback first with `workbench serve MODEL` (or the Playground page)")
        store = FeedbackStore(path)
        loaded = (supervised_rows if self.options.rows == "supervised" else preference_pairs)(store)
        ledger = Ledger(self.name)
        if not self.options.append and table.height:
            ledger.extend(pl.DataFrame({"row_id": table["id"], "action": "dropped", "reason": "replaced by load"}))
        ledger.extend(pl.DataFrame({"row_id": loaded["id"], "action": "added",
                                    "reason": f"{self.options.rows} from feedback in {self.options.db}"}))
        out = pl.concat([schema.conform(table), loaded]) if self.options.append else loaded
        return StepResult(out, ledger.frame(), stats={"rows_loaded": loaded.height, "rows": self.options.rows})
