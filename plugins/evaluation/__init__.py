"""Built-in evaluation steps: ``evaluate`` (kind evaluate) and ``report`` (kind report)."""

from __future__ import annotations

from workbench.hookspecs import hookimpl

from .evaluate import Evaluate
from .report_step import Report


@hookimpl
def register_steps(register):
    register(Evaluate)
    register(Report)
