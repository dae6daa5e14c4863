"""When a step fails: find the row that made it fail and keep the full traceback.

A plain exception in a component (``KeyError: 'statute'``) says nothing about
which of a million rows caused it. For components that process rows one by one
(cleaners, augmenters) the engine re-runs the failing component on halves of
the table until one row still fails (two runs per halving, about 2 x log2(rows), not one per row), and writes
the whole traceback to ``runs/<run>/errors/<step>.txt`` so it is not lost.
"""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.components import Augmenter, Cleaner, Component
from workbench.context import StepContext

if TYPE_CHECKING:
    import polars as pl

#: families whose components treat rows independently, so one row can reproduce a failure
ROW_WISE = (Cleaner, Augmenter)
#: re-runs at most (bisection needs about 2 x log2(rows) of them)
MAX_RUNS = 40


def failing_row(component: Component, table: pl.DataFrame, error: BaseException, ctx: StepContext) -> str | None:
    """The id of one row on which ``component`` alone raises the same exception type, or None.

    Runs the component on both halves of the table and follows a failing half down to one row.
    None when the component is not row-wise, the failure needs several rows together, or no half
    ever passes (a failure that does not depend on the rows: blaming the first row would mislead).
    """
    if not isinstance(component, ROW_WISE) or table.height < 2 or "id" not in table.columns:
        return None
    scratch = ctx.step_dir / ".find-row"
    runs = 0
    ctx.log(f"step {ctx.step_name} failed ({type(error).__name__}); re-running {component.name!r} on halves of "
            f"the table to find the row (about twice the step's work)")

    def fails(part: pl.DataFrame) -> bool:
        nonlocal runs
        runs += 1
        shutil.rmtree(scratch, ignore_errors=True)
        trial = StepContext(step_dir=scratch, run_dir=None, step_name=ctx.step_name, seed=ctx.seed,
                            artifacts=ctx.artifacts, base_dir=ctx.base_dir, log=lambda _msg: None)
        try:
            component.run(part, trial)
        except Exception as exc:  # noqa: BLE001 - the failure we are looking for
            return type(exc) is type(error)
        return False

    try:
        part, some_half_passed = table, False
        while part.height > 1 and runs < MAX_RUNS:
            half = part.height // 2
            first, second = part.head(half), part.slice(half)
            first_fails, second_fails = fails(first), fails(second)
            if not (first_fails or second_fails):
                return None
            some_half_passed |= not (first_fails and second_fails)
            part = first if first_fails else second
        return str(part["id"][0]) if part.height == 1 and some_half_passed else None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_traceback(run_dir: Path, step_name: str, error: BaseException, row_id: str | None) -> Path:
    """Write the full traceback of a failed step to ``errors/<step>.txt``; return its path."""
    from workbench.runtime import store

    lines = [f"step {step_name} failed" + (f" at row {row_id!r}" if row_id else "") + "\n\n"]
    lines += traceback.format_exception(error)
    path = run_dir / "errors" / f"{step_name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(path, "".join(lines))
    return path
