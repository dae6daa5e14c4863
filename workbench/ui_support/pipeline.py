"""The pipeline a user composes in the browser, as the run file the CLI executes.

Each page owns one *stage* (the steps of some kinds: the Clean page the
``clean`` steps, the Train page ``split`` and ``train``); :meth:`Pipeline.set_stage`
replaces a stage and keeps the steps in :data:`STAGE_ORDER`, so pages compose
without knowing each other. :meth:`Pipeline.runfile` is a real
:class:`workbench.runtime.runfile.RunFile`: saved as TOML it replays with
``workbench run``, and :func:`open_run` turns any CLI run folder back into a
pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.runtime import store
from workbench.runtime.runfile import RunFile, load_runfile, parse_runfile

#: order of step kinds in a composed pipeline; unknown kinds go before split
STAGE_ORDER = ("load", "clean", "augment", "scenarios", "split", "train", "evaluate", "report")


#: label of a load step that appends rows restored from the ledger; it runs right after cleaning
RESTORE_LABEL = "restore"


def _rank(kind: str, label: str | None = None) -> float:
    if label == RESTORE_LABEL:
        return STAGE_ORDER.index("clean") + 0.5
    return STAGE_ORDER.index(kind) if kind in STAGE_ORDER else STAGE_ORDER.index("split") - 0.5


def safe_name(text: str) -> str:
    """A run name from free text: letters, digits, '.', '_' and '-' only."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", text.strip()).strip("-.") or "run"
    return name if name[0].isalnum() else f"run-{name}"


@dataclass
class Pipeline:
    """Run name, seed and ordered steps (``{kind, component?, options}``)."""

    name: str = "ui-run"
    seed: int = 13
    description: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    #: folder relative paths in options are resolved against
    base_dir: Path = field(default_factory=Path.cwd)

    def runfile(self) -> RunFile:
        """Validate and return the run file (a WorkbenchError names the bad step)."""
        data = {"run": {"name": self.name, "seed": self.seed, "description": self.description},
                "steps": [{k: v for k, v in s.items() if v not in (None, {})} for s in self.steps]}
        return parse_runfile(data, base_dir=self.base_dir, source="pipeline")

    def to_toml(self) -> str:
        return self.runfile().to_toml()

    def stage(self, *kinds: str) -> list[dict[str, Any]]:
        return [s for s in self.steps if s["kind"] in kinds]

    def set_stage(self, kinds: tuple[str, ...] | str, steps: list[dict[str, Any]]) -> None:
        """Replace every step of ``kinds`` with ``steps``, keeping stage order."""
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        kept = [s for s in self.steps if s["kind"] not in kinds or s.get("label") == RESTORE_LABEL]
        merged = kept + [dict(s) for s in steps]
        self.steps = sorted(merged, key=lambda s: _rank(s["kind"], s.get("label")))  # stable: order within a stage is kept

    def upto(self, kind: str) -> Pipeline:
        """A copy holding only the steps that come before stage ``kind``."""
        steps = [dict(s) for s in self.steps if _rank(s["kind"], s.get("label")) < _rank(kind)]
        return Pipeline(self.name, self.seed, self.description, steps, self.base_dir)

    def add_restore(self, path: str | Path) -> None:
        """Append the rows of ``path`` (restored from the ledger) right after the cleaners."""
        self.steps = [s for s in self.steps if s.get("label") != RESTORE_LABEL]
        self.set_stage((), [{"kind": "load", "label": RESTORE_LABEL, "options": {"path": str(path), "append": True}}])

    def absolute(self) -> Pipeline:
        """A copy whose relative file options are absolute, so it can be saved in any folder."""
        def fix(value: Any) -> Any:
            if isinstance(value, str) and value and not Path(value).is_absolute() and (self.base_dir / value).exists():
                return str((self.base_dir / value).resolve())
            return value

        steps = [{**s, "options": {k: fix(v) for k, v in (s.get("options") or {}).items()}} for s in self.steps]
        return Pipeline(self.name, self.seed, self.description, steps, self.base_dir)

    def save(self, path: str | Path) -> Path:
        """Write the run file to ``path`` (paths made absolute first) and return it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(path, self.absolute().to_toml())
        return path


def from_runfile(rf: RunFile) -> Pipeline:
    steps = [s.model_dump(exclude_none=True) for s in rf.steps]
    return Pipeline(rf.run.name, rf.run.seed, rf.run.description, steps, Path(rf.base_dir))


def load(path: str | Path) -> Pipeline:
    """A pipeline from a TOML run file."""
    return from_runfile(load_runfile(path))


def open_run(run_dir: str | Path) -> Pipeline:
    """The pipeline a run folder was made from (its ``run.toml``, resolved as the CLI did)."""
    run_dir = Path(run_dir)
    rf = load_runfile(run_dir / "run.toml")
    status = store.read_json(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
    pipeline = from_runfile(rf)
    pipeline.base_dir = Path(status.get("base_dir") or rf.base_dir)
    return pipeline


def execute(pipeline: Pipeline, runs_dir: str | Path | None = None,
            on_step: Callable[[Any], None] | None = None) -> Path:
    """Run the pipeline in this process (quick steps); return the run folder.

    Finished steps whose inputs are unchanged are reused, so re-applying after
    adding one cleaner only runs the new step and what follows.
    """
    from workbench.runtime.engine import execute as run

    outcome = run(pipeline.runfile(), runs_dir=Path(runs_dir) if runs_dir else None, on_step=on_step,
                  log=lambda msg: None)
    return outcome.run_dir


def execute_task(pipeline: Pipeline, runs_dir: str | Path | None, ctx: Any) -> Path:
    """:func:`execute` as a UI task: progress counts the steps, a Cancel stops before the next step."""
    from workbench.errors import Cancelled

    with ctx.progress(len(pipeline.steps), "steps (finished ones are reused)") as bar:
        def on_step(_step: Any) -> None:
            bar.update(1)
            if ctx.cancelled():
                raise Cancelled()

        return execute(pipeline, runs_dir, on_step=on_step)


def latest_output(run_dir: str | Path, steps: int | None = None) -> Path | None:
    """The output parquet of a run's last finished step (None before any step finished).

    ``steps``: only the first that many steps count, for a pipeline run up to a stage: the folder may still hold
    later steps of an earlier, longer pipeline, which its next full run replaces."""
    found = [d for d in store.step_dirs(Path(run_dir)) if steps is None or int(d.name.split("-", 1)[0]) <= steps]
    return found[-1] / "output.parquet" if found else None
