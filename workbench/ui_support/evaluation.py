"""What the Evaluate page shows, from an evaluate step's ``results.json`` and ``examples.parquet``.

Metrics with their direction (higher or lower is better, or neutral), the
rows a metric skipped set apart, a chart of the scores that share a 0-100
scale, every answer with its score and facts verdict (sorted and filtered)
and its word diff against the reference or the base answer, and metric
deltas against another run. The blind review lives in
:mod:`workbench.ui_support.blind_review`, the verdict in
:mod:`workbench.evaluation.verdict`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from workbench.evaluation.diff import word_diff
from workbench.evaluation.examples import question_text
from workbench.runtime import store
from workbench.ui_support.diffs import diff_markdown


def evaluate_step(run_dir: str | Path) -> Path | None:
    """The run's last finished evaluate step folder with results (None when there is none)."""
    found = [p for p in store.step_dirs(Path(run_dir)) if (p / "results.json").exists()]
    return found[-1] if found else None


def load_results(step: Path) -> tuple[dict[str, Any], pl.DataFrame]:
    examples = step / "examples.parquet"
    return store.read_json(step / "results.json"), (pl.read_parquet(examples) if examples.exists() else pl.DataFrame())


def direction(higher_is_better: bool | None) -> str:
    return "neutral" if higher_is_better is None else "higher is better" if higher_is_better else "lower is better"


def metric_table(results: dict[str, Any], model: str | None = None) -> tuple[pl.DataFrame, list[str]]:
    """One row per (model, metric) with a score: direction, base, score, difference, 95% CI, p-value, test;
    and the metrics that were skipped, as ``"metric: reason"`` notes."""
    rows, notes = [], []
    for name, metrics in (results.get("comparisons") or {}).items():
        if model and name != model:
            continue
        for metric, c in metrics.items():
            hib = c.get("higher_is_better", ((results.get("scores") or {}).get(name, {}).get(metric) or {}).get(
                "higher_is_better", True))
            if c.get("skipped") or c.get("other") is None:
                notes.append(f"{metric}: {c.get('skipped') or 'no score'}")
                continue
            rows.append({"model": name, "metric": metric, "direction": direction(hib), "base": c.get("base"),
                         "score": c.get("other"), "difference": c.get("difference"), "ci_low": c.get("ci_low"),
                         "ci_high": c.get("ci_high"), "p_value": c.get("p_value"), "test": c.get("method") or ""})
    if not results.get("comparisons"):  # a single model: its scores only
        for name, metrics in (results.get("scores") or {}).items():
            for m, s in metrics.items():
                if s.get("skipped") or s.get("score") is None:
                    notes.append(f"{m}: {s.get('skipped') or 'no score'}")
                else:
                    rows.append({"model": name, "metric": m, "direction": direction(s.get("higher_is_better", True)),
                                 "score": s["score"]})
    return pl.DataFrame(rows, infer_schema_length=None), sorted(set(notes))


def _on_percent_scale(score: dict[str, Any], values: list[float]) -> float | None:
    """The factor that puts a higher-is-better score on 0-100 (shares in 0-1 times 100), or None."""
    if score.get("higher_is_better", True) is not True or not values:
        return None
    if "version:" in (score.get("signature") or ""):  # sacrebleu's scores are already 0-100
        return 1.0 if all(0 <= v <= 100 for v in values) else None
    if all(0 <= v <= 1 for v in values):
        return 100.0
    return 1.0 if all(0 <= v <= 100 for v in values) else None


def chart_scores(results: dict[str, Any]) -> tuple[pl.DataFrame, list[str]]:
    """Scores on one 0-100 scale for the chart (shares as percentages), and the metrics left out:
    lower-is-better and neutral figures (perplexity, latency, answer length) and other scales."""
    scores = results.get("scores") or {}
    names = sorted({m for metrics in scores.values() for m, s in metrics.items()
                    if isinstance(s.get("score"), (int, float)) and not s.get("skipped")})
    rows, left_out = [], []
    for metric in names:
        per_model = {model: s[metric] for model, s in scores.items() if isinstance((s.get(metric) or {}).get("score"), (int, float))}
        factor = _on_percent_scale(next(iter(per_model.values())), [s["score"] for s in per_model.values()])
        if factor is None:
            left_out.append(metric)
            continue
        rows += [{"model": model, "metric": metric, "score": s["score"] * factor} for model, s in per_model.items()]
    return pl.DataFrame(rows, schema={"model": pl.Utf8, "metric": pl.Utf8, "score": pl.Float64}), left_out


def slices_table(results: dict[str, Any], model: str) -> pl.DataFrame:
    """The primary metric per slice (label, scenario, ...) for one compared model."""
    rows = [{"slice_by": by, **{k: v for k, v in entry.items() if not isinstance(v, (dict, list))}}
            for by, entries in (results.get("slices", {}).get(model) or {}).items() for entry in entries]
    return pl.DataFrame(rows, infer_schema_length=None)


def primary_metric(results: dict[str, Any], model: str) -> str | None:
    """The metric the answers are scored by: the one the top examples used, else the configured primary."""
    return (results.get("top_examples", {}).get(model) or {}).get("metric") or results.get("primary_metric")


def _verdicts(results: dict[str, Any], model: str, n: int) -> list[str | None]:
    facts = ((results.get("scores") or {}).get(model) or {}).get("facts") or {}
    verdicts = (facts.get("details") or {}).get("verdicts") or []
    return [str(v) if v is not None else None for v in verdicts] if len(verdicts) == n else [None] * n


#: what the answers' word diff is taken against
DIFF_AGAINST = ("reference", "base")


def answers(examples: pl.DataFrame, results: dict[str, Any], model: str, against: str = "reference") -> pl.DataFrame:
    """Every example: id, question, reference, base and model answers, the model's score on the primary metric,
    its facts verdict, and the word diff of its answer from the reference (or from the base answer)."""
    if against not in DIFF_AGAINST:
        raise ValueError(f"against must be one of {DIFF_AGAINST}, got {against!r}")
    if not examples.height or "model_name" not in examples.columns:
        return pl.DataFrame()
    base, metric = results["base"], primary_metric(results, model)
    mine = examples.filter(pl.col("model_name") == model)
    score_col = f"score_{metric}"
    mine = mine.with_columns(
        (pl.col(score_col) if score_col in mine.columns else pl.lit(None, pl.Float64)).alias("score"),
        pl.Series("facts", _verdicts(results, model, mine.height), dtype=pl.Utf8))
    theirs = examples.filter(pl.col("model_name") == base).select("id", pl.col("prediction").alias("base_answer"))
    rows = []
    for r in mine.join(theirs, on="id", how="left").iter_rows(named=True):
        source = r.get("reference") if against == "reference" else r["base_answer"]
        rows.append({"id": str(r["id"]), "question": question_text(r["prompt"]) if r.get("prompt") else "",
                     "reference": r.get("reference"), "base_answer": r["base_answer"], "answer": r["prediction"],
                     "score": r["score"], "facts": r["facts"],
                     "diff": diff_markdown(word_diff(source, r["prediction"]))})
    return pl.DataFrame(rows, schema_overrides={"score": pl.Float64, "facts": pl.Utf8}, infer_schema_length=None)


#: answer orders offered by the page: label -> (column, descending)
SORTS = {"as evaluated": (None, False), "score, low to high": ("score", False), "score, high to low": ("score", True),
         "facts verdict": ("facts", False)}


def browse(table: pl.DataFrame, sort: str = "as evaluated", facts: list[str] | None = None, text: str = "") -> pl.DataFrame:
    """The answers sorted (``SORTS``) and filtered by facts verdict and by text in question or answers."""
    if not table.height:
        return table
    if facts:
        table = table.filter(pl.col("facts").fill_null("(none)").is_in(facts))
    if text.strip():
        needle = text.strip().lower()
        table = table.filter(pl.any_horizontal(pl.col(c).fill_null("").str.to_lowercase().str.contains(needle, literal=True)
                                               for c in ("question", "answer", "base_answer", "reference")))
    column, descending = SORTS[sort]
    return table.sort(column, descending=descending, nulls_last=True) if column else table


def metric_deltas(results_a: dict[str, Any], results_b: dict[str, Any], model: str = "tuned") -> pl.DataFrame:
    """The compared model's scores of two evaluations side by side: metric, direction, A, B, B - A."""
    def scores(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
        name = model if model in (results.get("scores") or {}) else next(iter(results.get("comparisons") or {}), None)
        return ((results.get("scores") or {}).get(name) or {}) if name else {}

    a, b = scores(results_a), scores(results_b)
    rows = []
    for metric in [m for m in a if m in b] + [m for m in b if m not in a]:
        sa, sb = (a.get(metric) or {}).get("score"), (b.get(metric) or {}).get("score")
        if sa is None and sb is None:
            continue
        hib = (a.get(metric) or b.get(metric) or {}).get("higher_is_better", True)
        rows.append({"metric": metric, "direction": direction(hib), "run_a": sa, "run_b": sb,
                     "b_minus_a": sb - sa if sa is not None and sb is not None else None})
    return pl.DataFrame(rows, schema={"metric": pl.Utf8, "direction": pl.Utf8, "run_a": pl.Float64,
                                      "run_b": pl.Float64, "b_minus_a": pl.Float64})


#: report format -> (file suffix, MIME type) of the downloads
REPORT_FORMATS = {"html": ("html", "text/html"), "md": ("md", "text/markdown"), "json": ("json", "application/json")}


def report_files(run_dir: str | Path, results: dict[str, Any], against: str | Path | None = None) -> dict[str, str]:
    """The run's evaluation report rendered by :mod:`workbench.report` (votes included) as HTML, Markdown, JSON."""
    from workbench.report.build import build_report
    from workbench.report.document import build_document
    from workbench.report.render import render_html, render_markdown

    report = build_report(Path(run_dir), results=results, against=Path(against) if against else None)
    sections = build_document(report)
    return {"html": render_html(sections, report["title"]), "md": render_markdown(sections),
            "json": json.dumps(report, indent=2, ensure_ascii=False, default=str)}
