"""The run engine: executes a run file's steps in order, reusing what it can.

Each step gets a key (input hash + component, version, plugin version,
options, seed, and for a plugin edited in place, from a plugins folder or an
editable install, a hash of the component's source). A finished step whose key is unchanged is reused, not re-run;
a step interrupted mid-way keeps its ``.partial`` folder when its key matches,
so a component that checkpoints (the trainers) resumes there. Any failure
stops the run with an error naming plugin, component, step and row, and leaves
the earlier steps' folders intact.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from workbench import schema
from workbench.components import Cleaner, Step
from workbench.context import StepContext
from workbench.errors import RowError, StepError, WorkbenchError
from workbench.ledger import StepResult, balance_problem
from workbench.runtime import store
from workbench.runtime.code_hash import source_hash
from workbench.runtime.discovery import Host, get_host
from workbench.runtime.runfile import RunFile, StepSpec
from workbench.runtime.step_failure import failing_row, write_traceback

if TYPE_CHECKING:
    from workbench.runtime.ray_executor import RayExecutor


@dataclass
class StepOutcome:
    index: int
    folder: Path
    manifest: dict[str, Any]
    reused: bool


@dataclass
class RunOutcome:
    run_dir: Path
    steps: list[StepOutcome] = field(default_factory=list)
    table: pl.DataFrame | None = None
    artifacts: dict[str, str] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _step_key(input_hash: str, spec: StepSpec, version: str, plugin_version: str | None, options: dict[str, Any],
              seed: int, code: str | None) -> str:
    parts = [input_hash, spec.family, spec.component_name, version, plugin_version, options, seed]
    payload = json.dumps(parts + [code] if code else parts, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _absolute_artifacts(step_folder: Path, prefix: str, artifacts: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in artifacts.items():
        candidate = step_folder / value
        out[f"{prefix}.{name}"] = str(candidate.resolve()) if value and candidate.exists() else value
    return out


def execute(
    runfile: RunFile,
    *,
    runs_dir: Path | None = None,
    host: Host | None = None,
    show_progress: bool = False,
    force: bool = False,
    on_step: Callable[[StepOutcome], None] | None = None,
    log: Callable[[str], None] | None = None,
    executor: RayExecutor | None = None,
) -> RunOutcome:
    """Run every step of ``runfile``; return the run folder and step outcomes.

    ``executor``: where cleaning steps run (None: in this process; a
    :class:`workbench.runtime.ray_executor.RayExecutor`: on a Ray cluster, the same result).
    """
    host = host or get_host()
    run_dir = store.runs_root(runs_dir) / runfile.run.name
    (run_dir / "steps").mkdir(parents=True, exist_ok=True)
    store.write_text(run_dir / "run.toml", runfile.to_toml())
    store.write_json(run_dir / "plugins.json", host.info())
    status: dict[str, Any] = {"name": runfile.run.name, "state": "running", "started": _now(), "updated": _now(),
                              "base_dir": str(runfile.base_dir), "steps": []}
    store.write_json(run_dir / "run.json", status)

    outcome = RunOutcome(run_dir)
    table = schema.empty_table()
    input_hash = "start"
    try:
        for index, spec in enumerate(runfile.steps, start=1):
            step, table = _run_step(index, spec, table, input_hash, runfile, run_dir, host, outcome.artifacts,
                                    show_progress=show_progress, force=force, log=log, executor=executor)
            outcome.steps.append(step)
            m = step.manifest
            input_hash = m["output_hash"]
            outcome.artifacts.update(_absolute_artifacts(step.folder, spec.kind, m.get("artifacts", {})))
            status["steps"].append({k: m[k] for k in ("index", "name", "rows_in", "rows_out", "added", "dropped",
                                                      "changed", "seconds")} | {"reused": step.reused})
            status["updated"] = _now()
            store.write_json(run_dir / "run.json", status)
            if on_step:
                on_step(step)
    except BaseException as exc:
        status.update(state="cancelled" if isinstance(exc, KeyboardInterrupt) else "failed",
                      error=str(exc), updated=_now())
        if isinstance(exc, StepError) and exc.traceback_file:
            status["error_file"] = exc.traceback_file
        store.write_json(run_dir / "run.json", status)
        raise
    status.update(state="finished", finished=_now(), updated=_now())
    store.write_json(run_dir / "run.json", status)
    outcome.table = table
    return outcome


def _run_step(index: int, spec: StepSpec, table: pl.DataFrame, input_hash: str, runfile: RunFile, run_dir: Path,
              host: Host, artifacts: dict[str, str], *, show_progress: bool, force: bool,
              log: Callable[[str], None] | None, executor: RayExecutor | None = None
              ) -> tuple[StepOutcome, pl.DataFrame]:
    entry = host.registry.entry(spec.family, spec.component_name)
    cls = cast(type[Step], entry.component)  # the families a run file's steps draw from all extend Step
    step_name = f"{index:02d}-{spec.kind}-{cls.name}"
    try:
        component = cls(spec.options)
    except WorkbenchError as exc:  # invalid options, one line naming each
        raise WorkbenchError(f"step {step_name}: {exc}", hint=exc.hint) from exc
    options = component.options.model_dump(mode="json")
    plugin_version = host.plugins[entry.plugin].version
    code = source_hash(cls) if host.plugins[entry.plugin].local else None
    key = _step_key(input_hash, spec, cls.version, plugin_version, options, runfile.run.seed, code)
    folder = run_dir / "steps" / step_name
    partial = folder.with_name(step_name + ".partial")

    for stale in (run_dir / "steps").glob(f"{index:02d}-*"):
        if stale not in (folder, partial) and not stale.name.endswith(".old"):
            shutil.rmtree(stale, ignore_errors=True)
    manifest_path = folder / "manifest.json"
    if not force and manifest_path.exists():
        manifest = store.read_json(manifest_path)
        if manifest.get("key") == key and (folder / "output.parquet").exists():
            return StepOutcome(index, folder, manifest, reused=True), store.load_output(folder)
        if code and manifest.get("source_hash") not in (None, code) and manifest.get("component_version") == cls.version:
            (log or _warn)(f"step {step_name}: the code of {cls.name!r} changed under the same version "
                           f"{cls.version!r}; re-running it (bump `version` when its behaviour changes)")

    if partial.exists() and (force or not (partial / ".key").exists() or (partial / ".key").read_text() != key):
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    (partial / ".key").write_text(key)
    ctx = StepContext(step_dir=partial, run_dir=run_dir, step_name=step_name, seed=runfile.run.seed,
                      artifacts=dict(artifacts), show_progress=show_progress, base_dir=runfile.base_dir,
                      cancel_file=run_dir / "CANCEL")
    if log:
        ctx.log = log
    started = time.time()
    try:
        if executor is not None and isinstance(component, Cleaner):
            result = executor.run(component, table, ctx)
        else:
            result = component.run(table, ctx)
    except StepError:
        raise
    except Exception as exc:  # any fault of the component: name the row, keep the traceback
        row_id = exc.row_id if isinstance(exc, RowError) else None
        if row_id is None and not isinstance(exc, WorkbenchError):
            row_id = failing_row(component, table, exc, ctx)
        path = write_traceback(run_dir, step_name, exc, row_id)
        raise StepError(step=step_name, component=cls.name, plugin=entry.plugin, cause=exc, row_id=row_id,
                        traceback_file=str(path)) from exc
    if not isinstance(result, StepResult):
        raise StepError(step=step_name, component=cls.name, plugin=entry.plugin, cause=TypeError(
            f"run() returned {type(result).__name__}, expected workbench.StepResult"))
    problem = balance_problem(table.height, result)
    if problem:
        raise StepError(step=step_name, component=cls.name, plugin=entry.plugin,
                        cause=WorkbenchError(f"row accounting does not balance: {problem}"))
    out = schema.conform(result.table)
    ledger = result.ledger
    store.write_parquet(partial / "output.parquet", out)
    store.write_parquet(partial / "ledger.parquet", ledger)
    counts = result.counts()
    dropped_by_reason: dict[str, int] = {}
    if ledger.height:
        for reason, n in ledger.filter(pl.col("action") == "dropped").group_by("reason").len().iter_rows():
            dropped_by_reason[reason] = int(n)
    manifest = {
        "index": index, "name": step_name, "kind": spec.kind, "family": spec.family, "component": cls.name,
        "component_version": cls.version, "source_hash": code, "plugin": entry.plugin, "plugin_version": plugin_version,
        "options": options, "seed": runfile.run.seed, "key": key, "input_hash": input_hash,
        "output_hash": schema.table_hash(out), "rows_in": table.height, "rows_out": out.height,
        "added": counts["added"], "dropped": counts["dropped"], "changed": counts["changed"],
        "rejected": counts["rejected"], "dropped_by_reason": dropped_by_reason, "stats": result.stats,
        "artifacts": result.artifacts, "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 3),
    }
    store.write_json(partial / "manifest.json", manifest)
    (partial / ".key").unlink(missing_ok=True)
    store.replace_dir(partial, folder)
    return StepOutcome(index, folder, manifest, reused=False), out
