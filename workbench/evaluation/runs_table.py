"""One table for many models: every model of several evaluated runs, per metric, with intervals and tests.

A column is one model of one run (``run:model``), read from the run's latest
evaluate step (``results.json`` and ``examples.parquet``); grid-search trials
evaluated as extra models are columns like any other. Per metric and column:
the score and its 95% bootstrap interval; and against the reference column
(the first one unless chosen), the difference, its 95% interval and a p-value
from a paired test on the examples both evaluated (paired on example id):
sacrebleu's paired bootstrap for BLEU / chrF / TER, McNemar for pass/fail
metrics (accuracy, behaviour) and a paired bootstrap for the other means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.evaluation import significance as sig

SACREBLEU = {"bleu": "BLEU", "chrf": "CHRF", "ter": "TER"}
PASS_FAIL = {"accuracy", "behavior", "exact_match"}


@dataclass
class Column:
    label: str
    run: str
    model: str
    scores: dict[str, dict[str, Any]]
    #: this model's rows of examples.parquet: id, prediction, reference, score_<metric>
    examples: pl.DataFrame | None


def evaluate_dirs(run_dir: Path) -> tuple[Path, Path | None]:
    """(results.json, examples.parquet or None) of the run's latest evaluate step."""
    from workbench.errors import WorkbenchError
    from workbench.runtime import store

    for step in reversed(store.step_dirs(run_dir)):
        manifest = store.read_json(step / "manifest.json")
        artifacts = manifest.get("artifacts", {})
        if manifest.get("kind") == "evaluate" and "results" in artifacts:
            examples = step / artifacts["examples"] if "examples" in artifacts else None
            return step / artifacts["results"], examples if examples and examples.exists() else None
    raise WorkbenchError(f"run {run_dir.name} has no finished evaluate step",
                         hint='add [[steps]] kind = "evaluate" to the run file and run it, or use `workbench evaluate`')


def run_columns(run_dir: Path, results: dict[str, Any] | None = None) -> list[Column]:
    """One column per model of the run (base first)."""
    from workbench.runtime import store

    results_file, examples_file = evaluate_dirs(run_dir)
    results = results if results is not None else store.read_json(results_file)
    frame = pl.read_parquet(examples_file) if examples_file else None
    out = []
    for model in results["scores"]:
        rows = frame.filter(pl.col("model_name") == model) if frame is not None and "model_name" in frame.columns else None
        out.append(Column(f"{run_dir.name}:{model}", run_dir.name, model, results["scores"][model], rows))
    return out


def _values(col: Column, metric: str) -> dict[str, float]:
    """Example id -> per-example score of ``metric`` (rows the metric scored)."""
    name = f"score_{metric}"
    if col.examples is None or name not in col.examples.columns:
        return {}
    return {i: float(v) for i, v in zip(col.examples["id"], col.examples[name]) if v is not None}


def _texts(col: Column) -> dict[str, tuple[str, str]]:
    if col.examples is None:
        return {}
    return {i: (p or "", r or "") for i, p, r in zip(col.examples["id"], col.examples["prediction"],
                                                     col.examples["reference"])}


def _sacrebleu_metric(metric: str) -> Any:
    import sacrebleu

    return getattr(sacrebleu.metrics, SACREBLEU[metric])()


def score_interval(col: Column, metric: str, summary: dict[str, Any], resamples: int, seed: int) -> list[float] | None:
    """95% bootstrap interval of one column's score (None when it cannot be recomputed from the examples)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if metric in SACREBLEU:
        texts = _texts(col)
        if not texts:
            return None
        m = _sacrebleu_metric(metric)
        hyps, refs = [t[0] for t in texts.values()], [t[1] for t in texts.values()]
        stats = np.array(m._extract_corpus_statistics(hyps, [refs]), dtype="float64")
        if abs(m._compute_score_from_stats(stats.sum(0)).score - (summary.get("score") or 0.0)) > 1e-6:
            return None  # scored with other options (e.g. lowercase): not reproducible here
        idx = rng.integers(0, len(hyps), size=(resamples, len(hyps)))
        boot = [m._compute_score_from_stats(stats[i].sum(0)).score for i in idx]
    else:
        values = np.array(list(_values(col, metric).values()))
        if values.size == 0 or summary.get("aggregate") not in ("mean", "exp_mean"):
            return None
        means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
        boot = np.exp(means) if summary.get("aggregate") == "exp_mean" else means
    low, high = np.percentile(boot, [2.5, 97.5])
    return [float(low), float(high)]


def paired_difference(ref: Column, col: Column, metric: str, summary: dict[str, Any], resamples: int, trials: int,
                      seed: int) -> dict[str, Any]:
    """Difference col - ref on the examples both evaluated, with interval and p-value."""
    if metric in SACREBLEU:
        a, b = _texts(ref), _texts(col)
        shared = sorted(set(a) & set(b))
        if len(shared) < 2:
            return {"skipped": "fewer than 2 shared examples", "n_paired": len(shared)}
        refs_a = [a[i][1] for i in shared]
        c = sig.sacrebleu_paired(_sacrebleu_metric(metric), [a[i][0] for i in shared], [b[i][0] for i in shared],
                                 refs_a, resamples, trials, seed or 1)
        if any(a[i][1] != b[i][1] for i in shared):
            c.extra["note"] = "references differ between the runs for some examples; the first column's are used"
    else:
        va, vb = _values(ref, metric), _values(col, metric)
        shared = sorted(set(va) & set(vb))
        if len(shared) < 2:
            return {"skipped": "fewer than 2 shared examples", "n_paired": len(shared)}
        x, y = [va[i] for i in shared], [vb[i] for i in shared]
        if metric in PASS_FAIL and all(v in (0.0, 1.0) for v in x + y):
            c = sig.mcnemar([v == 1.0 for v in x], [v == 1.0 for v in y], resamples, seed)
        elif summary.get("aggregate") in ("mean", "exp_mean"):
            c = sig.mean_bootstrap(x, y, resamples, seed, math.exp if summary.get("aggregate") == "exp_mean" else None)
        else:
            return {"skipped": "no per-example scores to pair", "n_paired": len(shared)}
    return c.to_dict() | {"n_paired": len(shared), "higher_is_better": summary.get("higher_is_better")}


def runs_table(columns: list[Column], *, reference: str | None = None, resamples: int = 1000, trials: int = 1000,
               seed: int = 1) -> dict[str, Any]:
    """Metric x column table: scores, intervals, differences vs the reference column, p-values."""
    if not columns:
        raise ValueError("no columns to compare")
    labels = [c.label for c in columns]
    ref = next((c for c in columns if c.label == reference), columns[0])
    metrics: list[str] = []
    for c in columns:
        metrics += [m for m, s in c.scores.items() if m not in metrics and s.get("score") is not None]
    rows = []
    for metric in metrics:
        cells: dict[str, dict[str, Any] | None] = {}
        for c in columns:
            summary = c.scores.get(metric)
            if not summary or summary.get("score") is None:
                cells[c.label] = None
                continue
            cell: dict[str, Any] = {"score": summary["score"],
                                    "ci": score_interval(c, metric, summary, resamples, seed),
                                    "n": None if c.examples is None else c.examples.height}
            if c is not ref and ref.scores.get(metric, {}).get("score") is not None:
                cell["vs_reference"] = paired_difference(ref, c, metric, summary, resamples, trials, seed)
            cells[c.label] = cell
        hib = next((c.scores[metric].get("higher_is_better", True) for c in columns if metric in c.scores), True)
        rows.append({"metric": metric, "higher_is_better": hib, "cells": cells})
    ids = [set(c.examples["id"].to_list()) if c.examples is not None else set() for c in columns]
    shared = set.intersection(*ids) if ids else set()
    return {"columns": labels, "reference": ref.label, "runs": sorted({c.run for c in columns}), "rows": rows,
            "examples": {c.label: len(i) for c, i in zip(columns, ids)}, "shared_examples": len(shared),
            "bootstrap_resamples": resamples, "ar_trials": trials, "seed": seed}
