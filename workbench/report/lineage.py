"""Data lineage of a run from its step manifests: what ran, what it kept and dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.runtime import store

STEP_FIELDS = ("index", "name", "kind", "component", "component_version", "plugin", "plugin_version", "rows_in",
               "rows_out", "added", "dropped", "changed", "rejected", "dropped_by_reason", "seconds")


def lineage(run_dir: Path) -> dict[str, Any]:
    """Steps in order with row counts; cleaners, augmenters, scenario generators; training settings."""
    manifests = [store.read_json(p / "manifest.json") for p in store.step_dirs(run_dir)]
    steps = [{k: m.get(k) for k in STEP_FIELDS} | {"options": m.get("options", {})} for m in manifests]
    by_kind: dict[str, list[str]] = {}
    for m in manifests:
        by_kind.setdefault(m["kind"], []).append(m["component"])
    train = next((m for m in reversed(manifests) if m["kind"] == "train"), None)
    run_info = store.read_json(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
    return {
        "run": run_info.get("name", run_dir.name), "state": run_info.get("state"),
        "seed": next((m.get("seed") for m in manifests), None),
        "cleaners": by_kind.get("clean", []), "augmenters": by_kind.get("augment", []),
        "scenario_generators": by_kind.get("scenarios", []),
        "training": ({"component": train["component"], "options": train.get("options", {}),
                      "stats": train.get("stats", {}), "artifacts": train.get("artifacts", {})} if train else None),
        "steps": steps,
    }
