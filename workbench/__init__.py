"""Workbench: a plugin-based workbench for fine-tuning chat language models.

``import workbench`` is the plugin API: everything a plugin author needs is an
attribute of this package (``workbench.hookimpl``, ``workbench.Cleaner``,
``workbench.StepResult``, ...). The names load lazily on first use, so
``import workbench`` itself stays light (no polars, torch or transformers).
Test helpers live in :mod:`workbench.testing`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> module that defines it
_API: dict[str, str] = {
    "hookimpl": "workbench.hookspecs",
    "Component": "workbench.components",
    "Step": "workbench.components",
    "Reader": "workbench.components",
    "Writer": "workbench.components",
    "Cleaner": "workbench.components",
    "Augmenter": "workbench.components",
    "ScenarioGenerator": "workbench.components",
    "Trainer": "workbench.components",
    "Metric": "workbench.components",
    "Options": "workbench.components",
    "NoOptions": "workbench.components",
    "AugmentOptions": "workbench.augmentation",
    "augment_selection": "workbench.augmentation",
    "variant_row": "workbench.augmentation",
    "StepResult": "workbench.ledger",
    "Ledger": "workbench.ledger",
    "StepContext": "workbench.context",
    "MetricResult": "workbench.evaluation.result",
    "WorkbenchError": "workbench.errors",
    "PluginError": "workbench.errors",
    "InvalidOptions": "workbench.errors",
    "RowError": "workbench.errors",
    "Record": "workbench.io.records",
    "Problem": "workbench.io.problems",
    "problem": "workbench.io.problems",
}

__all__ = ["__version__", *_API]

if TYPE_CHECKING:
    from workbench.augmentation import AugmentOptions, augment_selection, variant_row
    from workbench.components import (
        Augmenter,
        Cleaner,
        Component,
        Metric,
        NoOptions,
        Options,
        Reader,
        ScenarioGenerator,
        Step,
        Trainer,
        Writer,
    )
    from workbench.context import StepContext
    from workbench.errors import InvalidOptions, PluginError, RowError, WorkbenchError
    from workbench.evaluation.result import MetricResult
    from workbench.hookspecs import hookimpl
    from workbench.io.problems import Problem, problem
    from workbench.io.records import Record
    from workbench.ledger import Ledger, StepResult


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
