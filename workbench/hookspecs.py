"""The hooks a Workbench plugin can implement.

Every hook is called once per plugin when the plugin manager loads, with a
single keyword argument ``register``: a callable that takes a component class.
The host keeps the registry (see :mod:`workbench.runtime.registry`), checks each
component and rejects malformed ones or name clashes with an error naming the
plugin. Hooks return nothing; results are the registrations themselves.

Implementations may take fewer arguments than the spec (pluggy allows it), so
these specs can grow without breaking existing plugins.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT = "workbench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[type], type]


# --- Data formats (loading and saving) -------------------------------------


@hookspec
def register_readers(register: Register) -> None:
    """Register :class:`workbench.components.Reader` classes.

    Called once at load time. ``register(ReaderClass)`` adds a reader for one
    data format (OpenAI chat JSONL, Alpaca, CSV, ...). Readers are tried by
    their ``detect`` score when a file's format is not given explicitly.
    """


@hookspec
def register_writers(register: Register) -> None:
    """Register :class:`workbench.components.Writer` classes.

    Called once at load time. ``register(WriterClass)`` adds a writer that
    saves the canonical table in one format (``workbench convert`` uses them).
    """


# --- Curation ----------------------------------------------------------------


@hookspec
def register_cleaners(register: Register) -> None:
    """Register :class:`workbench.components.Cleaner` classes.

    Called once at load time. A cleaner takes the canonical table and returns
    a :class:`workbench.ledger.StepResult` recording every row it dropped or
    changed, with the reason. Used by ``clean`` steps of a run.
    """


@hookspec
def register_augmenters(register: Register) -> None:
    """Register :class:`workbench.components.Augmenter` classes.

    Called once at load time. An augmenter returns the input table plus new
    variant rows whose ``source_id`` points at their original and whose
    ``origin`` names the augmenter. Used by ``augment`` steps.
    """


@hookspec
def register_scenario_generators(register: Register) -> None:
    """Register :class:`workbench.components.ScenarioGenerator` classes.

    Called once at load time. A generator writes new conversations tagged with
    ``scenario`` and ``expected_behavior`` from the input table. Used by
    ``scenarios`` steps.
    """


# --- Training and evaluation -------------------------------------------------


@hookspec
def register_trainers(register: Register) -> None:
    """Register :class:`workbench.components.Trainer` classes.

    Called once at load time. A trainer turns the split table into a model
    (local weights or a remote model id) recorded as an artifact of the
    ``train`` step.
    """


@hookspec
def register_metrics(register: Register) -> None:
    """Register :class:`workbench.components.Metric` classes.

    Called once at load time. A metric scores model outputs against references
    (per example and for the corpus). Used by ``evaluate`` steps and reports.
    """


@hookspec
def register_steps(register: Register) -> None:
    """Register other :class:`workbench.components.Step` classes.

    Called once at load time, for step kinds outside the families above
    (``split``, ``evaluate``, ``report`` and anything a plugin invents).
    """
