"""Compare another model with the base: per metric, per example, per slice.

For each metric the comparison holds base and other scores, the difference,
its 95% interval and a paired p-value (the test suited to the metric, see
:mod:`workbench.evaluation.significance`), plus win/tie/loss counts over the
examples the metric scores one by one.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from workbench.evaluation import significance as sig
from workbench.evaluation.diff import word_diff
from workbench.evaluation.examples import question_text
from workbench.evaluation.result import MetricResult

#: corpus metrics recomputed per resample are slower: cap their resamples
CORPUS_RESAMPLES = 200
SLICE_COLUMNS = ("label", "scenario", "expected_behavior", "augmented")


def paired_values(a: MetricResult, b: MetricResult) -> list[tuple[int, float, float]]:
    """(row, base score, other score) for the rows both results score."""
    if not a.per_example or not b.per_example:
        return []
    return [(i, x, y) for i, (x, y) in enumerate(zip(a.per_example, b.per_example)) if x is not None and y is not None]


def win_tie_loss(pairs: list[tuple[int, float, float]], higher_is_better: bool | None) -> dict[str, int] | None:
    if higher_is_better is None or not pairs:
        return None
    sign = 1 if higher_is_better else -1
    deltas = [sign * (y - x) for _, x, y in pairs]
    return {"wins": sum(d > 1e-9 for d in deltas), "ties": sum(abs(d) <= 1e-9 for d in deltas),
            "losses": sum(d < -1e-9 for d in deltas)}


def compare_metric(metric: Any, base: MetricResult, other: MetricResult, base_frame: pl.DataFrame,
                   other_frame: pl.DataFrame, resamples: int, trials: int, seed: int) -> dict[str, Any]:
    """The comparison of one metric's results for base and other, as a JSON-able dict."""
    if base.skipped or other.skipped or base.score is None or other.score is None:
        return {"skipped": base.skipped or other.skipped or "no score"}
    pairs = paired_values(base, other)
    if hasattr(metric, "sacrebleu_metric"):
        c = sig.sacrebleu_paired(metric.sacrebleu_metric(), base_frame["prediction"].fill_null("").to_list(),
                                 other_frame["prediction"].fill_null("").to_list(),
                                 base_frame["reference"].fill_null("").to_list(), resamples, trials, seed or 1)
    elif getattr(metric, "paired_test", None) == "mcnemar":
        c = sig.mcnemar([x == 1.0 for _, x, _ in pairs], [y == 1.0 for _, _, y in pairs], resamples, seed)
        c.base, c.other, c.difference = base.score, other.score, other.score - base.score
    elif base.aggregate in ("mean", "exp_mean") and pairs:
        import math

        transform = math.exp if base.aggregate == "exp_mean" else None
        c = sig.mean_bootstrap([x for _, x, _ in pairs], [y for _, _, y in pairs], resamples, seed, transform)
    else:
        c = _corpus_bootstrap(metric, base_frame, other_frame, min(resamples, CORPUS_RESAMPLES), seed)
    out = c.to_dict() | {"higher_is_better": base.higher_is_better, "n_paired": len(pairs) or base_frame.height}
    out["win_tie_loss"] = win_tie_loss(pairs, base.higher_is_better)
    group_column = getattr(metric, "group_by", None)
    if group_column and group_column in base_frame.columns and pairs:
        out["by_group"] = {"column": group_column,
                           "groups": group_comparisons(pairs, base_frame[group_column].to_list(), base.higher_is_better,
                                                       getattr(metric, "paired_test", None), resamples, seed)}
    return out


def group_comparisons(pairs: list[tuple[int, float, float]], groups: list[Any], higher_is_better: bool | None,
                      test: str | None, resamples: int, seed: int) -> dict[str, dict[str, Any]]:
    """The comparison per value of a grouping column (e.g. per expected behaviour), paired on the same rows."""
    by: dict[str, list[tuple[int, float, float]]] = {}
    for t in pairs:
        if groups[t[0]] is not None:
            by.setdefault(str(groups[t[0]]), []).append(t)
    out = {}
    for value, ps in sorted(by.items()):
        x, y = [p[1] for p in ps], [p[2] for p in ps]
        c = (sig.mcnemar([v == 1.0 for v in x], [v == 1.0 for v in y], resamples, seed) if test == "mcnemar"
             else sig.mean_bootstrap(x, y, resamples, seed))
        out[value] = c.to_dict() | {"n_paired": len(ps), "higher_is_better": higher_is_better,
                                    "win_tie_loss": win_tie_loss(ps, higher_is_better)}
    return out


def _corpus_bootstrap(metric: Any, base_frame: pl.DataFrame, other_frame: pl.DataFrame, resamples: int,
                      seed: int) -> sig.Comparison:
    """Paired bootstrap for metrics that are not a mean of example scores (e.g. macro F1)."""
    def score(i: Any) -> tuple[float, float]:
        rows = list(i)
        a, b = metric.compute(base_frame[rows]).score, metric.compute(other_frame[rows]).score
        return float(a or 0.0), float(b or 0.0)

    return sig.paired_bootstrap(score, base_frame.height, base_frame.height, resamples, seed)


def slices(examples: pl.DataFrame, base: MetricResult, other: MetricResult) -> dict[str, list[dict[str, Any]]]:
    """Primary-metric means and win/tie/loss per value of each slice column."""
    pairs = {i: (x, y) for i, x, y in paired_values(base, other)}
    out: dict[str, list[dict[str, Any]]] = {}
    for column in SLICE_COLUMNS:
        values = examples[column].to_list()
        if column != "augmented" and all(v is None for v in values):
            continue
        groups: dict[Any, list[int]] = {}
        for i, v in enumerate(values):
            if i in pairs and v is not None:
                groups.setdefault(v, []).append(i)
        rows = []
        for value, idx in sorted(groups.items(), key=lambda kv: str(kv[0])):
            a = sum(pairs[i][0] for i in idx) / len(idx)
            b = sum(pairs[i][1] for i in idx) / len(idx)
            rows.append({"value": str(value), "n": len(idx), "base": a, "other": b, "difference": b - a}
                        | (win_tie_loss([(i, *pairs[i]) for i in idx], base.higher_is_better) or {}))
        if rows:
            out[column] = rows
    return out


def top_examples(examples: pl.DataFrame, base_pred: list[str], other_pred: list[str], base: MetricResult,
                 other: MetricResult, k: int) -> dict[str, list[dict[str, Any]]]:
    """The ``k`` biggest wins and worst regressions on the primary metric, with word diffs."""
    sign = -1 if base.higher_is_better is False else 1
    scored = sorted(paired_values(base, other), key=lambda t: sign * (t[2] - t[1]))

    def show(i: int, x: float, y: float) -> dict[str, Any]:
        return {"id": examples["id"][i], "question": question_text(examples["prompt"][i]),
                "reference": examples["reference"][i], "base_answer": base_pred[i], "other_answer": other_pred[i],
                "base_score": x, "other_score": y, "diff": word_diff(base_pred[i], other_pred[i])}

    wins = [show(*t) for t in reversed(scored) if sign * (t[2] - t[1]) > 1e-9][:k]
    losses = [show(*t) for t in scored if sign * (t[2] - t[1]) < -1e-9][:k]
    return {"wins": wins, "regressions": losses}
