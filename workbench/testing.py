"""Helpers for testing a component without a run: a table, a context, one call.

```python
from workbench.testing import chat_rows, run_component

result = run_component(MyCleaner, chat_rows(["hi", "bye"]), roles=["user"])
assert result.counts()["changed"] == 1
```

``run_component`` validates the options as a run file would, calls the
component and checks what the engine checks (the return type and the row
accounting), so a test passes only if a run would. ``read_file`` does the same for
a reader: the file goes through the loader's checks as a ``load`` step's would.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.components import Component, Metric, Reader, Step
from workbench.context import StepContext, scratch_context
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import polars as pl

    from workbench.io.loader import LoadResult

__all__ = ["chat_rows", "read_file", "run_component", "scratch_context", "tiny_model"]


def chat_rows(questions: list[str], answers: list[str] | None = None, **columns: list[Any]) -> pl.DataFrame:
    """A canonical table of one-exchange chats (ids ``r0``, ``r1``, ...); ``columns`` adds e.g. ``label=[...]``."""
    from workbench import schema

    answers = answers or [f"answer {i}" for i in range(len(questions))]
    rows = [{"id": f"r{i}", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for i, (q, a) in enumerate(zip(questions, answers, strict=True))]
    for name, values in columns.items():
        for row, value in zip(rows, values, strict=True):
            row[name] = value
    return schema.from_rows(rows)


def run_component(cls: type[Component], table: pl.DataFrame, ctx: StepContext | None = None,
                  **options: Any) -> Any:
    """Build ``cls`` with ``options`` and run it on ``table``: a StepResult for steps, the metric's result for metrics.

    Raises :class:`WorkbenchError` when the options are invalid, ``run`` returns something other than
    a StepResult, or its rows do not balance (rows in + added = rows out + dropped).
    """
    from workbench.ledger import StepResult, balance_problem

    component = cls(options)  # invalid options: a WorkbenchError naming each
    if isinstance(component, Metric):
        return component.compute(table)
    if not isinstance(component, Step):
        raise WorkbenchError(f"{cls.__name__} is a {cls.kind}; run_component runs steps and metrics")
    result = component.run(table, ctx or scratch_context())
    if not isinstance(result, StepResult):
        raise WorkbenchError(f"{cls.name}.run() returned {type(result).__name__}, expected workbench.StepResult")
    problem = balance_problem(table.height, result)
    if problem:
        raise WorkbenchError(f"{cls.name}: row accounting does not balance: {problem}")
    return result


def read_file(cls: type[Reader], path: str | Path, **options: Any) -> LoadResult:
    """Read ``path`` with the reader ``cls`` (built with ``options``) through the loader's checks.

    The result is what a ``load`` step gets: ``.table`` (valid rows, ids derived where the file has none),
    ``.quarantined`` and ``.problems`` by line; the reader need not be registered.
    """
    from workbench.io.loader import load_table

    if not issubclass(cls, Reader):
        raise WorkbenchError(f"{cls.__name__} is a {cls.kind}; read_file reads with readers")
    return load_table(path, reader=cls(options))


def tiny_model(folder: str | os.PathLike[str] | None = None) -> Path:
    """A tiny random Llama model with SmolLM2's tokenizer and chat template (built once per folder, about a second).

    Loads and generates like a real model, fast enough for unit tests; the default folder is shared
    by the whole machine (``$TMPDIR/workbench-tiny-llama``).
    """
    from workbench.lm.tiny import tiny_causal_lm

    target = Path(folder) if folder else Path(tempfile.gettempdir()) / "workbench-tiny-llama"
    if not (target / "config.json").exists():  # build aside, then move: parallel test processes share it
        built = tiny_causal_lm(target.with_name(f"{target.name}.{os.getpid()}.tmp"))
        try:
            os.replace(built, target)
        except OSError:  # another process moved its copy first
            import shutil

            shutil.rmtree(built, ignore_errors=True)
    return target
