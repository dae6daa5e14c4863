"""Run history, step tables and two-run comparison for the Runs page."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from workbench import store

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
