"""Run every variant of an experiment as an ordinary run, sharing the steps variants have in common.

The engine reuses a finished step only inside its own run folder. Before a
variant runs, the finished step folders of the longest identical pipeline
prefix of an earlier variant are hard-linked into its folder (copied where
links fail); the engine then checks each one's key as usual, so a shared
step is reused, and one whose inputs differ after all is simply re-run.
Killing the experiment and starting it again resumes: finished variants are
reused step by step, an interrupted one resumes where the engine left it. A
``CANCEL`` file in the experiment's folder stops it before the next variant.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.experiment.spec import Experiment, VariantRun
from workbench.runtime import store


@dataclass
class VariantOutcome:
    run: VariantRun
    run_dir: Path
    reused_steps: list[str]
    linked_steps: list[str]
    seconds: float
    run_seconds: float
    train_rows: int | None


def experiment_dir(exp: Experiment, runs_dir: str | Path | None = None) -> Path:
    """Where the experiment's own files live: ``<runs>/<experiment>/`` (state and report)."""
    return store.runs_root(runs_dir) / exp.name


def _prefix(a: list[Any], b: list[Any]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def link_shared_steps(run: VariantRun, earlier: list[VariantRun], root: Path) -> list[str]:
    """Link the finished steps ``run`` shares with an earlier variant's run folder; the names linked."""
    rf = run.runfile
    mine = [s.model_dump() for s in rf.steps]
    best, best_n = None, 0
    for other in earlier:
        same_run = (other.runfile.run.seed, other.runfile.base_dir) == (rf.run.seed, rf.base_dir)
        n = _prefix(mine, [s.model_dump() for s in other.runfile.steps]) if same_run else 0
        if n > best_n and (root / other.runfile.run.name / "steps").is_dir():
            best, best_n = other, n
    if best is None:
        return []
    target = root / rf.run.name / "steps"
    target.mkdir(parents=True, exist_ok=True)
    linked = []
    for step in store.step_dirs(root / best.runfile.run.name):
        index = int(step.name[:2])
        if index > best_n:
            break
        if any(p.name == step.name for p in store.step_dirs(root / rf.run.name)):
            continue  # the engine checks the key of what is there
        partial = target / f"{step.name}.linking"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(step, partial, copy_function=_link_or_copy)
        os.replace(partial, target / step.name)
        linked.append(step.name)
    return linked


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def train_rows(run_dir: Path) -> int | None:
    """Rows of the train split the train step received (the last step's table when nothing trained)."""
    steps = store.step_dirs(run_dir)
    trained = [p for p in steps if store.read_json(p / "manifest.json").get("kind") == "train"]
    chosen = trained[-1] if trained else (steps[-1] if steps else None)
    if chosen is None:
        return None
    split = pl.read_parquet(chosen / "output.parquet", columns=["split"])["split"]
    return int((split == "train").sum())


def run_experiment(exp: Experiment, *, runs_dir: str | Path | None = None, force: bool = False,
                   show_progress: bool = False, on_variant: Callable[[VariantOutcome], None] | None = None,
                   on_start: Callable[[VariantRun, int, int], None] | None = None,
                   log: Callable[[str], None] | None = None) -> list[VariantOutcome]:
    """Execute every run of ``exp`` in order; state goes to ``<runs>/<experiment>/experiment.json``."""
    from workbench.runtime.engine import execute

    root = store.runs_root(runs_dir)
    folder = experiment_dir(exp, runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    runs = exp.runs()
    state: dict[str, Any] = {"name": exp.name, "state": "running", "reference": exp.reference,
                             "runs": [{"label": r.label, "variant": r.variant.name, "seed": r.seed,
                                       "run": r.runfile.run.name, "state": "pending"} for r in runs]}
    store.write_json(folder / "experiment.json", state)
    outcomes = []
    try:
        for i, run in enumerate(runs):
            if (folder / "CANCEL").exists():  # written by the page's Cancel; the running step has its own file
                raise KeyboardInterrupt(f"experiment {exp.name} cancelled before {run.label}")
            if on_start:
                on_start(run, i, len(runs))
            state["runs"][i]["state"] = "running"
            store.write_json(folder / "experiment.json", state)
            linked = [] if force else link_shared_steps(run, runs[:i], root)
            started = time.time()
            outcome = execute(run.runfile, runs_dir=root, show_progress=show_progress, force=force, log=log)
            done = VariantOutcome(run, outcome.run_dir, [s.manifest["name"] for s in outcome.steps if s.reused], linked,
                                  round(sum(s.manifest["seconds"] for s in outcome.steps), 3),
                                  round(time.time() - started, 3), train_rows(outcome.run_dir))
            outcomes.append(done)
            state["runs"][i].update(state="finished", seconds=done.seconds, train_rows=done.train_rows)
            store.write_json(folder / "experiment.json", state)
            if on_variant:
                on_variant(done)
    except BaseException as exc:
        state.update(state="cancelled" if isinstance(exc, KeyboardInterrupt) else "failed", error=str(exc))
        store.write_json(folder / "experiment.json", state)
        raise
    state["state"] = "finished"
    store.write_json(folder / "experiment.json", state)
    return outcomes
