"""The run store: one folder per run, one sub-folder per step, atomic writes.

```
runs/<name>/
  run.toml          the resolved run file
  run.json          state (running / finished / failed), error, step summaries
  plugins.json      loaded plugins with versions
  steps/01-load-load/
    output.parquet  the table after the step
    ledger.parquet  rows dropped / changed / added / rejected, with reasons
    manifest.json   key, options, input/output hashes, counts, timings, artifacts
    ...             artifacts (models, reports)
```
A step folder is built as ``NN-...partial`` and renamed into place when the
step finishes; its ``manifest.json`` is the proof it finished.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import WorkbenchError


def runs_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--runs-dir``, else ``WORKBENCH_RUNS``, else ``./runs``."""
    return Path(explicit or os.environ.get("WORKBENCH_RUNS") or "runs")


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_parquet(path: Path, df: pl.DataFrame) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    df.write_parquet(tmp)
    os.replace(tmp, path)


def replace_dir(src: Path, dst: Path) -> None:
    """Move a finished step folder into place, replacing any older one."""
    if dst.exists():
        old = dst.with_name(dst.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def list_runs(root: Path) -> list[dict[str, Any]]:
    """Summaries of every run under ``root``, newest first."""
    runs = []
    for run_json in root.glob("*/run.json"):
        try:
            info = read_json(run_json)
        except (OSError, json.JSONDecodeError):
            continue
        info["path"] = str(run_json.parent)
        runs.append(info)
    return sorted(runs, key=lambda r: r.get("updated", ""), reverse=True)


def find_run(ref: str, root: Path) -> Path:
    """A run folder from a name under ``root`` or a path."""
    for candidate in (Path(ref), root / ref):
        if (candidate / "run.json").exists():
            return candidate
    raise WorkbenchError(f"no run {ref!r} under {root}", hint="`workbench runs` lists the runs")


def step_dirs(run_dir: Path) -> list[Path]:
    """Finished step folders of a run, in order."""
    return sorted(p for p in (run_dir / "steps").glob("[0-9][0-9]-*")
                  if p.is_dir() and not p.name.endswith((".partial", ".old")) and (p / "manifest.json").exists())


def step_dir(run_dir: Path, ref: str) -> Path:
    """A step folder from its number (``3``) or its folder name."""
    for p in step_dirs(run_dir):
        if p.name == ref or (ref.isdigit() and int(p.name[:2]) == int(ref)):
            return p
    raise WorkbenchError(f"run {run_dir.name} has no finished step {ref!r}",
                         hint=f"`workbench runs show {run_dir.name}` lists its steps")


def load_output(step: Path) -> pl.DataFrame:
    return pl.read_parquet(step / "output.parquet")


def load_ledger(step: Path) -> pl.DataFrame:
    return pl.read_parquet(step / "ledger.parquet")


def run_ledger(run_dir: Path) -> pl.DataFrame:
    """Every step's ledger of a run, with a ``step`` column."""
    parts = [load_ledger(p).with_columns(pl.lit(p.name).alias("step")) for p in step_dirs(run_dir)]
    return pl.concat(parts) if parts else pl.DataFrame()
