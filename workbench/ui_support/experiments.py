"""The Experiments page's logic: variants of the composed pipeline, the experiment file, a background run.

The page builds variants as plain dicts (the ``[[variants]]`` of docs/experiments.md), this module turns
them with the session's pipeline into an experiment file, starts ``workbench experiment`` in its own
process (like :mod:`workbench.ui_support.jobs` does for one run) and reads its progress back from
``<runs>/<experiment>/experiment.json`` and the running variant's run folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.experiment.spec import Experiment, parse_experiment
from workbench.runtime import store
from workbench.runtime.runfile import dumps_toml
from workbench.ui_support import jobs
from workbench.ui_support.pipeline import Pipeline

if TYPE_CHECKING:
    from workbench.components import Component

EXPERIMENT_FILE = "experiment.toml"


def step_addresses(pipeline: Pipeline) -> list[str]:
    """``kind:component`` of every step of the pipeline (what a variant can patch or drop; evaluate excluded)."""
    rf = pipeline.runfile()
    return [f"{s.kind}:{s.component_name}" for s in rf.steps if s.kind != "evaluate"]


def options_patch(component: type[Component], current: dict[str, Any], edited: dict[str, Any]) -> dict[str, Any]:
    """The options a form changed, compared with the step's options and defaults: what the variant overrides."""
    before = component.Options.model_validate(current).model_dump(mode="json")
    return {k: v for k, v in edited.items() if before.get(k) != v}


def variant(name: str, *, address: str | None = None, patch: dict[str, Any] | None = None,
            without: list[str] | None = None, data_fraction: float | None = None, seeds: str = "") -> dict[str, Any]:
    """One ``[[variants]]`` entry from the page's form (``seeds``: "13, 14, 15")."""
    out: dict[str, Any] = {"name": name.strip()}
    if address and patch:
        out[address] = patch
    if without:
        out["without"] = list(without)
    if data_fraction is not None and data_fraction < 1:
        out["data_fraction"] = data_fraction
    if seeds.strip():
        try:
            out["seeds"] = [int(s) for s in seeds.replace(",", " ").split()]
        except ValueError as exc:
            from workbench.errors import WorkbenchError

            raise WorkbenchError(f"seeds {seeds!r} are not whole numbers", hint="e.g. 13, 14, 15") from exc
    return out


def describe(v: dict[str, Any]) -> str:
    """A variant's change in one line for the page's table."""
    import json

    change = {k: x for k, x in v.items() if k != "name"}
    return json.dumps(change, ensure_ascii=False) if change else "none (the pipeline as it is)"


def experiment_data(pipeline: Pipeline, variants: list[dict[str, Any]], reference: str | None = None) -> dict[str, Any]:
    data = pipeline.absolute().runfile().model_dump(exclude_none=True)
    data["variants"] = variants
    if reference:
        data["experiment"] = {"reference": reference}
    return data


def build(pipeline: Pipeline, variants: list[dict[str, Any]], reference: str | None = None) -> Experiment:
    """The checked experiment (a WorkbenchError names the variant and key of a bad patch)."""
    return parse_experiment(experiment_data(pipeline, variants, reference), base_dir=pipeline.base_dir,
                            source="experiment")


def to_toml(pipeline: Pipeline, variants: list[dict[str, Any]], reference: str | None = None) -> str:
    build(pipeline, variants, reference)
    return dumps_toml(experiment_data(pipeline, variants, reference))


def folder(pipeline: Pipeline, runs_dir: str | Path) -> Path:
    return Path(runs_dir) / pipeline.name


def start(pipeline: Pipeline, variants: list[dict[str, Any]], runs_dir: str | Path, reference: str | None = None) -> Path:
    """Save the experiment file and start ``workbench experiment`` in the background (also to resume)."""
    exp = build(pipeline, variants, reference)
    where = folder(pipeline, runs_dir)
    if (where / jobs.JOB_FILE).exists() and jobs.is_alive(int(jobs.read_job(where)["pid"])):
        raise RuntimeError(f"experiment {exp.name!r} is already running")
    where.mkdir(parents=True, exist_ok=True)
    for run_dir in [where, *(Path(runs_dir) / r.runfile.run.name for r in exp.runs())]:
        (run_dir / "CANCEL").unlink(missing_ok=True)  # a cancel of an earlier attempt must not stop this one
    path = where / EXPERIMENT_FILE
    store.write_text(path, to_toml(pipeline, variants, reference))
    cmd = [sys.executable, "-m", "workbench", "experiment", str(path), "--runs-dir", str(Path(runs_dir).resolve())]
    jobs.spawn(cmd, where, pipeline.base_dir)
    return where


def progress(exp_dir: str | Path, runs_dir: str | Path) -> dict[str, Any]:
    """State of the experiment and one row per run: state, step running now, its progress."""
    exp_dir = Path(exp_dir)
    job = _read(exp_dir / jobs.JOB_FILE) or {}
    state = _read(exp_dir / "experiment.json") or {"state": "starting" if job else "not started", "runs": []}
    alive = bool(job.get("pid")) and jobs.is_alive(int(job["pid"]))
    overall = state.get("state", "starting")
    if overall in ("running", "starting") and not alive and job:
        overall = "stopped" if overall == "running" else overall
    rows = []
    for r in state.get("runs", []):
        row = {"variant": r["label"], "run": r["run"], "state": r["state"], "now": ""}
        if r["state"] == "running":
            s = jobs.status(Path(runs_dir) / r["run"])
            row["now"] = f"{s.step}: {jobs.eta_text(s.progress)}" if s.step else "starting"
            if not alive:
                row["state"] = "interrupted"
        rows.append(row)
    log = exp_dir / jobs.LOG_FILE
    return {"state": overall, "alive": alive, "runs": rows, "error": state.get("error"),
            "log_tail": log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""}


def cancel(exp_dir: str | Path, runs_dir: str | Path) -> None:
    """Ask the running variant's step to stop, and the experiment not to start another; it can be resumed."""
    jobs.cancel(exp_dir)
    for r in (_read(Path(exp_dir) / "experiment.json") or {}).get("runs", []):
        if r["state"] == "running":
            jobs.cancel(Path(runs_dir) / r["run"])


def report(exp_dir: str | Path) -> dict[str, Any] | None:
    """The comparison of the last finished experiment (report.json), if any."""
    return _read(Path(exp_dir) / "report.json")


def comparison_rows(c: dict[str, Any], key: str = "vs_reference") -> list[dict[str, Any]]:
    """Rows variant x metric of one comparison for a table on the page."""
    out = []
    for row in c[key]["rows"]:
        for label in c[key]["columns"]:
            cell = row["cells"].get(label) or {}
            d = cell.get("vs_reference")
            if d:
                out.append({"variant": label, "metric": row["metric"], "score": cell.get("score"),
                            "difference": d.get("difference"), "ci_low": d.get("ci_low"), "ci_high": d.get("ci_high"),
                            "p_value": d.get("p_value"), "p_holm": d.get("p_holm")})
    return out


def run_rows(c: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per run: training rows, seconds, steps reused and the tuned model's ship verdict."""
    return [{"variant": v["label"], "training rows": v["train_rows"], "seconds": v["seconds"],
             "steps reused": len(v["reused_steps"]), "ship verdict": (v.get("verdict") or {}).get("status", "—"),
             "verdict": (v.get("verdict") or {}).get("headline", "no comparison with the base")}
            for v in c["variants"]]


def seed_rows(c: dict[str, Any]) -> list[dict[str, Any]]:
    """Per seeded variant and metric: the mean across seeds, its spread and its tests (Holm p)."""
    return [{"variant": name, "metric": metric, "seeds": s["n"], "mean": s["mean"], "sd": s["sd"], "min": s["min"],
             "max": s["max"], "vs reference": (s.get("vs_reference") or {}).get("difference"),
             "Holm p (reference)": (s.get("vs_reference") or {}).get("p_holm"),
             "vs base": (s.get("vs_base") or {}).get("difference"), "Holm p (base)": (s.get("vs_base") or {}).get("p_holm")}
            for name, metrics in c["seeds"].items() for metric, s in metrics.items()]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return store.read_json(path)
    except (OSError, ValueError):
        return None

