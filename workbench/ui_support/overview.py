"""Where the user stands: the current dataset and run, the flow data -> clean -> augment -> train -> evaluate,
and the next step. Read from session state and run folders only, so the home page and the header every
page shows never run anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.runtime import store
from workbench.ui_support import keys
from workbench.ui_support.pipeline import Pipeline


@dataclass
class Current:
    """The dataset and runs a session works on (None: nothing yet)."""

    dataset: str | None = None
    rows: int | None = None
    quarantined: int | None = None
    run: str | None = None
    job: str | None = None
    job_state: str | None = None


@dataclass
class Stage:
    """One stage of the flow: its page (path under the app), whether it is done, and what that means."""

    name: str
    page: str
    done: bool
    note: str


def current(state: Mapping[str, Any]) -> Current:
    from workbench.ui_support import jobs

    out = Current()
    table = state.get(keys.TABLE_PATH)
    if table and Path(table).exists():
        opened, pipeline = state.get(keys.VALIDATION), state.get(keys.PIPELINE)
        load: dict[str, Any] = next(iter(pipeline.stage("load")), {}) if pipeline is not None else {}
        source = opened.source if opened is not None else (load.get("options") or {}).get("path")
        out.dataset = Path(source).name if source else Path(table).name
        out.rows = pl.scan_parquet(table).select(pl.len()).collect().item()
        out.quarantined = opened.report.get("rows_invalid") if opened is not None else None
    if state.get(keys.RUN_DIR):
        out.run = Path(state[keys.RUN_DIR]).name
    if state.get(keys.JOB_RUN_DIR) and Path(state[keys.JOB_RUN_DIR]).exists():
        out.job, out.job_state = Path(state[keys.JOB_RUN_DIR]).name, jobs.status(Path(state[keys.JOB_RUN_DIR])).state
    return out


def status_line(c: Current) -> str:
    """The header's one line: dataset (rows, quarantined) · run · training job."""
    if c.dataset is None:
        return "No dataset open yet: start on the Data page."
    parts = [f"Dataset **{c.dataset}**: {c.rows:,} rows" + (f", {c.quarantined} quarantined" if c.quarantined else "")]
    if c.run:
        parts.append(f"run **{c.run}**")
    if c.job:
        parts.append(f"training **{c.job}** ({c.job_state})")
    return " · ".join(parts)


def _has_step(run_dir: str | None, kind: str) -> bool:
    if not run_dir:
        return False
    return any(f"-{kind}-" in p.name or p.name.endswith(f"-{kind}")
                                 for p in store.step_dirs(Path(run_dir)))


def flow(state: Mapping[str, Any]) -> list[Stage]:
    """The five stages with what is done in this session."""
    c, pipeline = current(state), state.get(keys.PIPELINE) or Pipeline()
    stage = pipeline.stage
    curated = any("_curated" in str((s.get("options") or {}).get("path", "")) for s in stage("load"))
    job = state.get(keys.JOB_RUN_DIR)
    return [
        Stage("Data", "pages/data.py", c.dataset is not None,
              f"{c.dataset}, {c.rows:,} rows" if c.dataset else "open or upload a dataset"),
        Stage("Clean", "pages/clean.py", bool(stage("clean")),
              f"{len(stage('clean'))} cleaners applied" if stage("clean") else "drop duplicates, fix text, redact PII"),
        Stage("Augment", "pages/augment_scenarios.py", curated or bool(stage("augment", "scenarios")),
              "curated rows added" if curated else "optional: variants and scenarios, reviewed one by one"),
        Stage("Train", "pages/train.py", c.job_state == "finished",
              f"{c.job}: {c.job_state}" if c.job else "pre-flight estimate, then train in the background"),
        Stage("Evaluate", "pages/evaluate.py", _has_step(job, "evaluate"),
              "evaluated" if _has_step(job, "evaluate") else "base vs tuned, with a ship verdict"),
    ]


#: stages the flow may skip (the next step never points at them)
OPTIONAL = ("Augment",)


def next_step(stages: list[Stage]) -> Stage | None:
    """The first stage not done yet, optional ones aside; None when everything is done."""
    return next((s for s in stages if not s.done and s.name not in OPTIONAL), None)
