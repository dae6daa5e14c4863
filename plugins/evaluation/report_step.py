"""The ``report`` step: render the run's evaluation as HTML, Markdown and JSON."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from pydantic import Field

from workbench.components import Options, Step
from workbench.context import StepContext
from workbench.ledger import StepResult


class ReportOptions(Options):
    formats: list[str] = Field(default=["html", "md", "json"], description="Formats to write: html, md, json")
    title: str | None = Field(default=None, description="Report title (default: the run name)")
    against: str | list[str] | None = Field(default=None, description="Other runs (names or folders) whose models join one table")
    reference: str | None = Field(default=None, description="Column the others are tested against (run:model; default: this run's base)")


class Report(Step):
    name = "report"
    description = "Self-contained HTML, Markdown and JSON report of the evaluation, with data lineage"
    Options = ReportOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        from workbench.report.build import build_report
        from workbench.report.render import write_report
        from workbench.runtime import store

        o = self.options
        results = store.read_json(Path(ctx.artifact("evaluate.results")))
        run_dir = ctx.run_dir or ctx.step_dir
        names = [o.against] if isinstance(o.against, str) else (o.against or [])
        against = [store.find_run(a, run_dir.parent) for a in names]
        report = build_report(run_dir, results=results, against=against, title=o.title, reference=o.reference)
        paths = write_report(report, ctx.step_dir, o.formats)
        return StepResult(table, artifacts={fmt: path.name for fmt, path in paths.items()})
