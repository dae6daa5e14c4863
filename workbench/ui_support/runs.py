"""Run history, step tables and two-run comparison for the Runs page: row counts, the settings that differ,
the run files' diff and the loss curves."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import polars as pl

from workbench.runtime import store

STEP_COLUMNS = ("index", "name", "component", "rows_in", "rows_out", "added", "dropped", "changed", "rejected",
                "seconds")


def history(root: str | Path) -> pl.DataFrame:
    """Every run under ``root``, newest first: name, state, steps, final row count, updated."""
    rows = []
    for info in store.list_runs(Path(root)):
        steps = info.get("steps") or []
        rows.append({"name": info.get("name") or Path(info["path"]).name, "state": info.get("state"),
                     "steps": len(steps), "rows": steps[-1].get("rows_out") if steps else None,
                     "updated": info.get("updated"), "error": info.get("error"), "path": info["path"]})
    return pl.DataFrame(rows, schema={"name": pl.Utf8, "state": pl.Utf8, "steps": pl.Int64, "rows": pl.Int64,
                                      "updated": pl.Utf8, "error": pl.Utf8, "path": pl.Utf8})


def steps(run_dir: str | Path) -> pl.DataFrame:
    """One row per finished step, from the manifests: counts and timings."""
    rows = []
    for folder in store.step_dirs(Path(run_dir)):
        m = store.read_json(folder / "manifest.json")
        rows.append({c: m.get(c) for c in STEP_COLUMNS} | {"folder": str(folder)})
    return pl.DataFrame(rows) if rows else pl.DataFrame({c: [] for c in (*STEP_COLUMNS, "folder")})


def compare(run_a: str | Path, run_b: str | Path) -> pl.DataFrame:
    """The two runs' steps side by side (matched by position), with row-count differences."""
    a, b = steps(run_a), steps(run_b)
    keep = ["index", "name", "rows_out", "dropped", "added"]
    a = a.select(keep).rename({c: f"{c}_a" for c in keep if c != "index"}) if a.height else None
    b = b.select(keep).rename({c: f"{c}_b" for c in keep if c != "index"}) if b.height else None
    if a is None or b is None:
        return a if a is not None else b if b is not None else pl.DataFrame()
    joined = a.join(b, on="index", how="full", coalesce=True).sort("index")
    return joined.with_columns((pl.col("rows_out_b") - pl.col("rows_out_a")).alias("rows_out_diff"))


def run_options(run_dir: str | Path) -> dict[str, str]:
    """Finished steps of a run as ``label -> folder`` (for pickers)."""
    return {f"{p.name}": str(p) for p in store.step_dirs(Path(run_dir))}


def _flatten(options: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (options or {}).items():
        if isinstance(v, dict) and v:
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _step_settings(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``kind component [#n]`` -> every resolved option of that finished step (manifests hold defaults too)."""
    out: dict[str, dict[str, Any]] = {}
    for folder in store.step_dirs(Path(run_dir)):
        m = store.read_json(folder / "manifest.json")
        label = f"{m.get('kind')} {m.get('component')}"
        n = sum(1 for k in out if k == label or k.startswith(f"{label} #"))
        out[label if not n else f"{label} #{n + 1}"] = _flatten(m.get("options") or {}) | {"(seed)": m.get("seed")}
    return out


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value


def settings_diff(run_a: str | Path, run_b: str | Path) -> pl.DataFrame:
    """The settings that differ between two runs' finished steps: step, setting, value in A, value in B.

    Steps are matched by kind, component and occurrence, not position, so one extra cleaner does not shift the
    rest; options are the resolved ones the step ran with (defaults included), so ``epochs = 3`` against an
    unset default shows as ``3`` against ``1``. A step only one run has appears as one row."""
    a, b = _step_settings(run_a), _step_settings(run_b)
    rows = []
    for step in [*a, *(s for s in b if s not in a)]:
        if step not in a or step not in b:
            rows.append({"step": step, "setting": "(the whole step)", "run_a": "ran" if step in a else "—",
                         "run_b": "ran" if step in b else "—"})
            continue
        for key in [*a[step], *(k for k in b[step] if k not in a[step])]:
            va, vb = a[step].get(key, "—"), b[step].get(key, "—")
            if va != vb:
                rows.append({"step": step, "setting": key, "run_a": _shown(va), "run_b": _shown(vb)})
    return pl.DataFrame(rows, schema={"step": pl.Utf8, "setting": pl.Utf8, "run_a": pl.Utf8, "run_b": pl.Utf8})


def runfile_diff(run_a: str | Path, run_b: str | Path) -> str:
    """A unified diff of the two runs' ``run.toml`` files (empty when they are the same)."""
    def lines(run: str | Path) -> list[str]:
        path = Path(run) / "run.toml"
        return path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []

    return "".join(difflib.unified_diff(lines(run_a), lines(run_b), fromfile=f"{Path(run_a).name}/run.toml",
                                        tofile=f"{Path(run_b).name}/run.toml"))


def loss_curves(*run_dirs: str | Path) -> pl.DataFrame:
    """run, step, curve ("train" or "validation"), loss: each run's last training step's ``history.json``."""
    rows = []
    for run in run_dirs:
        found = [f / "history.json" for f in store.step_dirs(Path(run)) if (f / "history.json").exists()]
        for record in (json.loads(found[-1].read_text(encoding="utf-8")) if found else []):
            for curve, key in (("train", "loss"), ("validation", "val_loss")):
                if isinstance(record.get(key), (int, float)):
                    rows.append({"run": Path(run).name, "step": record.get("step"), "curve": curve, "loss": record[key]})
    return pl.DataFrame(rows, schema={"run": pl.Utf8, "step": pl.Int64, "curve": pl.Utf8, "loss": pl.Float64})
