"""Assemble everything the report shows into one JSON-able dict.

Sources: the evaluate step's ``results.json`` (latest evaluate step of the
run), the run's manifests (lineage), human votes, and optionally a second
run to compare against.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench import store
from workbench.errors import WorkbenchError
from workbench.evaluation.votes import load_votes, tally
from workbench.report.lineage import lineage


def results_path(run_dir: Path) -> Path:
    """``results.json`` of the run's latest finished evaluate step."""
    for step in reversed(store.step_dirs(run_dir)):
        manifest = store.read_json(step / "manifest.json")
        if manifest.get("kind") == "evaluate" and "results" in manifest.get("artifacts", {}):
            return step / manifest["artifacts"]["results"]
    raise WorkbenchError(f"run {run_dir.name} has no finished evaluate step",
                         hint='add [[steps]] kind = "evaluate" to the run file and run it')


def build_report(run_dir: Path, *, results: dict[str, Any] | None = None, against: Path | None = None,
                 title: str | None = None) -> dict[str, Any]:
    results = results if results is not None else store.read_json(results_path(run_dir))
    votes = load_votes(run_dir)
    report = {
        "title": title or f"Evaluation report: {run_dir.name}",
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": run_dir.name, "results": results, "lineage": lineage(run_dir),
        "votes": {"tally": tally(votes), "n": len(votes)} if votes else None,
        "against": None,
    }
    if against is not None:
        report["against"] = compare_runs(results, store.read_json(results_path(against)), against.name)
    return report


def compare_runs(mine: dict[str, Any], theirs: dict[str, Any], their_name: str) -> dict[str, Any]:
    """Scores of both runs' models side by side, per metric (models prefixed by run)."""
    metrics = sorted(set(mine["scores"][mine["base"]]) | set(theirs["scores"][theirs["base"]]))
    columns = [f"this:{m}" for m in mine["scores"]] + [f"{their_name}:{m}" for m in theirs["scores"]]
    rows = []
    for metric in metrics:
        cells = [mine["scores"][m].get(metric, {}).get("score") for m in mine["scores"]]
        cells += [theirs["scores"][m].get(metric, {}).get("score") for m in theirs["scores"]]
        rows.append({"metric": metric, "scores": dict(zip(columns, cells))})
    return {"run": their_name, "columns": columns, "rows": rows,
            "same_examples": mine["n_examples"] == theirs["n_examples"], "n_examples": theirs["n_examples"]}
