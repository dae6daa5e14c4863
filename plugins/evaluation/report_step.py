"""The ``report`` step: render the run's evaluation as HTML, Markdown and JSON."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from pydantic import Field

from workbench.components import Options, Step
from workbench.ledger import StepResult


class ReportOptions(Options):
    formats: list[str] = Field(default=["html", "md", "json"], description="Formats to write: html, md, json")
    title: str | None = Field(default=None, description="Report title (default: the run name)")
    against: str | None = Field(default=None, description="Another run (name or folder) to compare with")


class Report(Step):
    name = "report"
    description = "Self-contained HTML, Markdown and JSON report of the evaluation, with data lineage"
    Options = ReportOptions

    def run(self, table: pl.DataFrame, ctx) -> StepResult:
        from workbench import store
        from workbench.report.build import build_report
        from workbench.report.render import write_report

        o = self.options
        results = store.read_json(Path(ctx.artifact("evaluate.results")))
        run_dir = ctx.run_dir or ctx.step_dir
        against = store.find_run(o.against, run_dir.parent) if o.against else None
        report = build_report(run_dir, results=results, against=against, title=o.title)
        paths = write_report(report, ctx.step_dir, o.formats)
        return StepResult(table, artifacts={fmt: path.name for fmt, path in paths.items()})
