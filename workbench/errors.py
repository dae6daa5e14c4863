"""Errors with a message a user can act on (one line, plus an optional hint)."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base for errors shown to users as one line plus a hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class PluginError(WorkbenchError):
    """A plugin could not be loaded or registered a malformed component."""


class InvalidOptions(WorkbenchError, ValueError):
    """A component's options do not validate; one line naming each option (a ValueError, as pydantic's is)."""


class Cancelled(KeyboardInterrupt):
    """The user asked to stop (``ctx.cancelled()``): a run records the step as cancelled, a UI task as cancelled.

    A KeyboardInterrupt, so a component's ``except Exception`` does not report a cancel as a failure.
    """


class RowError(Exception):
    """Raised inside a component to name the row that made it fail."""

    def __init__(self, row_id: str, message: str) -> None:
        super().__init__(message)
        self.row_id = row_id


class StepError(WorkbenchError):
    """A step of a run failed; names plugin, component, step and row, and where the traceback is."""

    def __init__(self, *, step: str, component: str, plugin: str, cause: BaseException, row_id: str | None = None,
                 traceback_file: str | None = None) -> None:
        where = f"step {step} failed in component {component!r} of plugin {plugin!r}"
        if row_id:
            where += f" at row {row_id!r}"
        hint = "earlier steps' outputs are kept; fix the cause and re-run to resume"
        if isinstance(cause, WorkbenchError) and cause.hint:
            hint = f"{cause.hint}; {hint}"
        if traceback_file:
            hint = f"full traceback in {traceback_file} (or re-run with --debug); {hint}"
        super().__init__(f"{where}: {type(cause).__name__}: {cause}", hint=hint)
        self.step, self.component, self.plugin, self.row_id = step, component, plugin, row_id
        self.traceback_file = traceback_file
