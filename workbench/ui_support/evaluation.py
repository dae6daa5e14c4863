"""What the Evaluate page shows, from an evaluate step's ``results.json`` and ``examples.parquet``.

Also the blind preference mode: each example's two answers are shown in an
order fixed by a hash of the example id (so a reload does not reshuffle and
the voter cannot learn a side), and a vote on "left"/"right"/"tie" is stored
with the run through :mod:`workbench.evaluation.votes`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench import store
from workbench.evaluation import votes
from workbench.evaluation.diff import word_diff
from workbench.ui_support.diffs import diff_markdown


def evaluate_step(run_dir: str | Path) -> Path | None:
    """The run's last finished evaluate step folder with results (None when there is none)."""
    found = [p for p in store.step_dirs(Path(run_dir)) if (p / "results.json").exists()]
    return found[-1] if found else None


def load_results(step: Path) -> tuple[dict[str, Any], pl.DataFrame]:
    examples = step / "examples.parquet"
    return store.read_json(step / "results.json"), (pl.read_parquet(examples) if examples.exists() else pl.DataFrame())


def metric_table(results: dict[str, Any]) -> pl.DataFrame:
    """One row per (model, metric): base score, model score, difference, 95% CI, p-value, test."""
    rows = []
    for model, metrics in (results.get("comparisons") or {}).items():
        for metric, c in metrics.items():
            rows.append({"model": model, "metric": metric, "base": c.get("base"), "score": c.get("other"),
                         "difference": c.get("difference"), "ci_low": c.get("ci_low"), "ci_high": c.get("ci_high"),
                         "p_value": c.get("p_value"), "test": c.get("method") or c.get("skipped") or ""})
    if not rows:  # a single model: its scores only
        for model, metrics in (results.get("scores") or {}).items():
            rows += [{"model": model, "metric": m, "score": s.get("score"), "test": s.get("skipped") or ""}
                     for m, s in metrics.items()]
    return pl.DataFrame(rows, infer_schema_length=None)


def scores_long(results: dict[str, Any]) -> pl.DataFrame:
    """model, metric, score (for the bar chart)."""
    rows = [{"model": model, "metric": m, "score": s.get("score")}
            for model, metrics in (results.get("scores") or {}).items() for m, s in metrics.items()
            if isinstance(s.get("score"), (int, float))]
    return pl.DataFrame(rows, schema={"model": pl.Utf8, "metric": pl.Utf8, "score": pl.Float64})


def chart_scores(results: dict[str, Any], limit: float = 100.0) -> tuple[pl.DataFrame, list[str]]:
    """Scores for one bar chart: metrics on a 0..``limit`` scale, and the names of those left out (perplexity...)."""
    scores = scores_long(results)
    wide = sorted(set(scores.filter(pl.col("score").abs() > limit)["metric"].to_list()))
    return scores.filter(~pl.col("metric").is_in(wide)), wide


def slices_table(results: dict[str, Any], model: str) -> pl.DataFrame:
    """The primary metric per slice (label, scenario, ...) for one compared model."""
    rows = [{"slice_by": by, **{k: v for k, v in entry.items() if not isinstance(v, (dict, list))}}
            for by, entries in (results.get("slices", {}).get(model) or {}).items() for entry in entries]
    return pl.DataFrame(rows, infer_schema_length=None)


def _question(prompt: Any) -> str:
    turns = json.loads(prompt) if isinstance(prompt, str) else prompt or []
    users = [t.get("content", "") for t in turns if t.get("role") == "user"]
    return users[-1] if users else ""


def side_by_side(examples: pl.DataFrame, base: str, other: str) -> pl.DataFrame:
    """id, question, reference, both answers and the word diff from base to other."""
    if not examples.height or "model_name" not in examples.columns:
        return pl.DataFrame()
    a = examples.filter(pl.col("model_name") == base)
    b = examples.filter(pl.col("model_name") == other).select("id", pl.col("prediction").alias("other_answer"))
    rows = []
    for r in a.join(b, on="id", how="inner").iter_rows(named=True):
        rows.append({"id": r["id"], "question": _question(r.get("prompt")), "reference": r.get("reference"),
                     "base_answer": r["prediction"], "other_answer": r["other_answer"],
                     "diff": diff_markdown(word_diff(r["prediction"], r["other_answer"]))})
    return pl.DataFrame(rows)


@dataclass
class BlindPair:
    example_id: str
    question: str
    left: str
    right: str
    #: which model is on the left: "base" or "tuned" (hidden from the voter)
    left_is: str


def blind_pair(pairs: pl.DataFrame, index: int) -> BlindPair | None:
    """The ``index``-th example as an A/B pair in a stable pseudo-random order."""
    if not pairs.height:
        return None
    r = pairs.row(index % pairs.height, named=True)
    flip = hashlib.sha256(str(r["id"]).encode()).digest()[0] % 2 == 1
    left, right = (r["other_answer"], r["base_answer"]) if flip else (r["base_answer"], r["other_answer"])
    return BlindPair(str(r["id"]), r["question"], left or "", right or "", "tuned" if flip else "base")


def vote(run_dir: str | Path, pair: BlindPair, choice: str, model: str | None = None) -> dict[str, Any]:
    """Store a blind vote ("left", "right" or "tie") as base/tuned/tie with the run."""
    if choice not in ("left", "right", "tie"):
        raise ValueError(f"choice must be left, right or tie, got {choice!r}")
    other = "base" if pair.left_is == "tuned" else "tuned"
    winner = "tie" if choice == "tie" else pair.left_is if choice == "left" else other
    return votes.add_vote(Path(run_dir), pair.example_id, winner, voter="ui", model=model)


def tally(run_dir: str | Path) -> dict[str, int]:
    return votes.tally(votes.load_votes(Path(run_dir)))


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
