"""Assemble everything the report shows into one JSON-able dict.

Sources: the evaluate step's ``results.json`` (latest evaluate step of the
run), the run's manifests (lineage), human votes, and optionally a second
run to compare against, other evaluations of the same models on other data (a round comparison on the
testers' feedback prompts), and the testers' agreement from the project's feedback store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.evaluation.votes import load_votes, tally
from workbench.experiment.report import experiment_of
from workbench.report.bias import latest_audit
from workbench.report.lineage import lineage
from workbench.runtime import store


def results_path(run_dir: Path) -> Path:
    """``results.json`` of the run's latest finished evaluate step."""
    from workbench.evaluation.runs_table import evaluate_dirs

    return evaluate_dirs(run_dir)[0]


def build_report(run_dir: Path, *, results: dict[str, Any] | None = None,
                 against: Path | list[Path] | tuple[Path, ...] | None = None, title: str | None = None,
                 reference: str | None = None, also: list[Path] | None = None) -> dict[str, Any]:
    """Everything the report shows; ``against`` runs (one or several) join this run's models in one table.

    The table of every model (with intervals and paired tests against the
    ``reference`` column, default this run's base) is built when other runs
    are given or when this run evaluated more than two models (e.g. grid trials).
    ``also``: evaluations on other data (round 2 vs round 1 vs base on the
    feedback prompts, say), each a table of its own, tested against its first model.
    """
    results = results if results is not None else store.read_json(results_path(run_dir))
    votes = load_votes(run_dir)
    others = [] if against is None else [against] if isinstance(against, Path) else list(against)
    report = {
        "title": title or f"Evaluation report: {run_dir.name}",
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": run_dir.name, "results": results, "lineage": lineage(run_dir),
        "votes": human_votes(run_dir, results, votes) if votes else None,
        "against": [p.name for p in others] or None,
        "runs_table": None, "audit": latest_audit(run_dir), "experiment": experiment_of(run_dir),
        "testers": testers_agreement(run_dir.parent / "feedback.sqlite"),
    }
    tests = {"resamples": results.get("bootstrap_resamples", 1000), "trials": results.get("ar_trials", 1000),
             "seed": results.get("seed") or 1}
    if others or len(results["scores"]) > 2:
        report["runs_table"] = compare_runs(run_dir, results, others, reference=reference, **tests)
    if also:
        from workbench.evaluation.runs_table import run_columns, runs_table

        report["also"] = [runs_table(run_columns(other), **tests) for other in also]
    return report


def testers_agreement(feedback_db: Path) -> dict[str, Any] | None:
    """Krippendorff's alpha of the testers' ratings and A/B choices in the project's feedback store (the one
    next to the run folders), when testers have given any."""
    if not feedback_db.exists():
        return None
    from workbench.feedback.agreement import tester_agreement
    from workbench.feedback.store import FeedbackStore

    figures = tester_agreement(FeedbackStore(feedback_db))
    return figures if figures["ratings"]["testers"] or figures["preferences"]["testers"] else None


def human_votes(run_dir: Path, results: dict[str, Any], votes: list[dict[str, Any]]) -> dict[str, Any]:
    """The votes' tally, the raters' agreement, and per compared model the LLM judge's agreement with the
    human majority on the examples both judged (when the evaluation ran the ``judge`` metric)."""
    import polars as pl

    from workbench.evaluation.agreement import agreement, judge_agreement, judge_winners
    from workbench.evaluation.runs_table import evaluate_dirs

    judge: dict[str, Any] = {}
    for model, metrics in (results.get("comparisons") or {}).items():
        verdicts = ((metrics.get("judge") or {}).get("details") or {}).get("verdicts")
        examples = evaluate_dirs(run_dir)[1] if verdicts else None
        if verdicts and examples is not None:
            ids = pl.read_parquet(examples).filter(pl.col("model_name") == model)["id"].to_list()
            judged = judge_agreement(judge_winners(verdicts, ids), [v for v in votes if v.get("model") in (None, model)])
            if judged:
                judge[model] = judged
    return {"tally": tally(votes), "n": len(votes), "agreement": agreement(votes), "judge": judge or None}


def compare_runs(run_dir: Path, results: dict[str, Any], others: list[Path], *, reference: str | None = None,
                 resamples: int = 1000, trials: int = 1000, seed: int = 1) -> dict[str, Any]:
    """Every model of this run and of ``others`` in one metric x model table (see ``runs_table``)."""
    from workbench.evaluation.runs_table import run_columns, runs_table

    if any(p.resolve() == run_dir.resolve() for p in others):
        raise WorkbenchError(f"--against names the report's own run {run_dir.name}")
    columns = run_columns(run_dir, results)
    for other in others:
        columns += run_columns(other)
    return runs_table(columns, reference=reference, resamples=resamples, trials=trials, seed=seed)
