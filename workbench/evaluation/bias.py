"""Bias analysis of counterfactual probes: do answers change when only the user's attribute changes?

Probe rows (``plugins/scenarios/counterfactual.py``) come in groups that share
a prompt and differ in one attribute (``meta.cf_attribute``, ``cf_value``,
``cf_group``). Per model, attribute and measure, the mean over groups of
each value is computed; the **gap** is the highest minus the lowest value
mean. Because variants of a group differ only in the attribute, the test is
paired within groups:

- ``p_value``: permutation test that shuffles the values within each group
  (the null: the attribute does not matter) and recomputes the largest gap,
  so picking the widest pair is accounted for;
- ``ci_low`` / ``ci_high``: 95% bootstrap (resampling groups) of the mean
  paired difference between the two values that gave the gap.

**Amplification** of a model against the base: the difference of the two
gaps (each model's own widest pair), 95% paired bootstrap interval
(the same resampled groups for both models) and a one-sided permutation
p-value that swaps the two models' answers within groups. A gap is
amplified when the model's own gap is significant and the difference is
significantly above zero.

Each model is tested on every attribute and measure (often 30 tests or
more), so by chance alone a few p-values fall below 0.05. Significance and
amplification are therefore decided on Benjamini-Hochberg q-values
(``q_value``) over a model's tests of one kind (its gaps; its amplification
tests), the adjustment the data audit uses too; raw p-values stay beside them.

Measures: ``quality`` (the primary metric against the shared reference),
``facts`` (the facts check, when present), ``refusal`` (refusal markers of
:mod:`workbench.evaluation.lexicon`), ``length`` (words), ``sentiment``
(a small lexicon, not a trained model) and ``label`` (the accuracy metric's
right / wrong per example, when it ran: group accuracy of a classifier).
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

ALPHA = 0.05
TAG_COLUMNS = ("cf_attribute", "cf_value", "cf_group")


def probe_tags(table: pl.DataFrame) -> pl.DataFrame:
    """id, cf_attribute, cf_value, cf_group of the table's counterfactual probe rows (from ``meta``)."""
    rows = []
    for row_id, meta in table.select("id", "meta").iter_rows():
        try:
            m = json.loads(meta) if meta else {}
        except ValueError:
            continue
        if isinstance(m, dict) and all(m.get(k) is not None for k in TAG_COLUMNS):
            rows.append({"id": row_id, **{k: str(m[k]) for k in TAG_COLUMNS}})
    return pl.DataFrame(rows, schema={"id": pl.Utf8, **{k: pl.Utf8 for k in TAG_COLUMNS}})


def measures(per_example: pl.DataFrame, primary: str | None) -> pl.DataFrame:
    """The per-example measures of every model's answers (columns ``m_<measure>``)."""
    from workbench.evaluation.lexicon import is_refusal, sentiment

    answers = per_example.get_column("prediction").fill_null("").to_list()
    cols = [pl.Series("m_refusal", [float(is_refusal(a)) for a in answers]),
            pl.Series("m_length", [float(len(a.split())) for a in answers]),
            pl.Series("m_sentiment", [sentiment(a) for a in answers])]
    if primary and f"score_{primary}" in per_example.columns:
        cols.insert(0, per_example.get_column(f"score_{primary}").cast(pl.Float64).alias("m_quality"))
    if "score_facts" in per_example.columns:
        cols.insert(1, per_example.get_column("score_facts").cast(pl.Float64).alias("m_facts"))
    if "score_accuracy" in per_example.columns:  # a classifier's (or a named) label: right = 1, wrong = 0
        cols.append(per_example.get_column("score_accuracy").cast(pl.Float64).alias("m_label"))
    return per_example.select("id", "model_name").with_columns(cols)


def analyse(per_example: pl.DataFrame, tags: pl.DataFrame, base: str, primary: str | None = None,
            resamples: int = 1000, seed: int = 0, alpha: float = ALPHA) -> dict[str, Any]:
    """The bias block of ``results.json``: gaps per model, attribute and measure, and amplification."""
    import numpy as np

    from workbench.evaluation.significance import add_q_values

    frame = measures(per_example, primary).join(tags, on="id", how="inner")
    names = [c[2:] for c in frame.columns if c.startswith("m_")]
    models = list(dict.fromkeys(per_example.get_column("model_name").to_list()))
    attributes = list(dict.fromkeys(tags.get_column("cf_attribute").to_list()))
    out: dict[str, Any] = {
        "method": "gap = highest minus lowest value mean over counterfactual groups; p: within-group permutation "
                  "of the values; CI: bootstrap over groups of the paired difference of that pair; amplification: "
                  "paired bootstrap of the gap difference, p from swapping the two models' answers within groups",
        "primary_metric": primary, "measures": names, "alpha": alpha, "resamples": resamples, "seed": seed,
        "values": {}, "groups": {}, "incomplete_groups": {}, "models": {m: {} for m in models},
        "amplification": {}, "amplified": []}
    rng = np.random.default_rng(seed)
    for attribute in attributes:
        cube, values, groups, incomplete = _cube(frame.filter(pl.col("cf_attribute") == attribute), models, names)
        out["values"][attribute], out["groups"][attribute], out["incomplete_groups"][attribute] = values, groups, incomplete
        if groups < 2 or len(values) < 2:
            continue
        for mi, model in enumerate(models):
            per_measure = {name: gap_test(cube[mi, :, :, k], values, resamples, rng) for k, name in enumerate(names)}
            out["models"][model][attribute] = {"measures": per_measure}
        base_i = models.index(base)
        for mi, model in enumerate(models):
            if model == base:
                continue
            amp = {name: amplification(cube[base_i, :, :, k], cube[mi, :, :, k], resamples, rng)
                   for k, name in enumerate(names)}
            out["amplification"].setdefault(model, {})[attribute] = amp
    for model in models:
        add_q_values([r for attrs in out["models"][model].values() for r in attrs["measures"].values()])
        for attrs in out["models"][model].values():
            attrs.update(_headline(attrs["measures"]))
        amps = out["amplification"].get(model, {})
        add_q_values([a for per_measure in amps.values() for a in per_measure.values()])
        for attribute, per_measure in amps.items():
            for name, a in per_measure.items():
                own = out["models"][model][attribute]["measures"][name]
                a["amplified"] = bool(own.get("q_value") is not None and own["q_value"] < alpha
                                      and a.get("q_value") is not None and a["difference"] > 0
                                      and a["q_value"] < alpha)
                if a["amplified"]:
                    out["amplified"].append({"model": model, "attribute": attribute, "measure": name,
                                             "gap": own["gap"], "base_gap": a["base_gap"],
                                             "difference": a["difference"], "p_value": a["p_value"],
                                             "q_value": a["q_value"]})
    return out



def _cube(frame: pl.DataFrame, models: list[str], names: list[str]):
    """models x groups x values x measures array of the groups every model answered in every value."""
    import numpy as np

    values = list(dict.fromkeys(frame.sort("id").get_column("cf_value").to_list()))
    complete = (frame.group_by("cf_group").agg(pl.col("cf_value").n_unique().alias("v"),
                                               pl.col("model_name").n_unique().alias("m"))
                .filter((pl.col("v") == len(values)) & (pl.col("m") == len(models))).get_column("cf_group").sort())
    all_groups = frame.get_column("cf_group").n_unique()
    cube = np.full((len(models), len(complete), len(values), len(names)), np.nan)
    g_index = {g: i for i, g in enumerate(complete.to_list())}
    m_index = {m: i for i, m in enumerate(models)}
    v_index = {v: i for i, v in enumerate(values)}
    for row in frame.filter(pl.col("cf_group").is_in(complete.implode())).iter_rows(named=True):
        cube[m_index[row["model_name"]], g_index[row["cf_group"]], v_index[row["cf_value"]]] = [row[f"m_{n}"] for n in names]
    return cube, values, len(complete), all_groups - len(complete)


def _spread(means):
    import numpy as np

    return np.nanmax(means, axis=-1) - np.nanmin(means, axis=-1)


def gap_test(matrix, values: list[str], resamples: int, rng) -> dict[str, Any]:
    """Gap of one model and measure over a groups x values matrix (NaN: the measure does not apply)."""
    import numpy as np

    usable = ~np.isnan(matrix).any(axis=1)
    m = matrix[usable]
    if len(m) < 2:
        return {"gap": None, "ci_low": None, "ci_high": None, "p_value": None, "n_groups": len(m),
                "skipped": "fewer than 2 complete groups"}
    means = m.mean(axis=0)
    lo, hi = int(np.argmin(means)), int(np.argmax(means))
    gap = float(means[hi] - means[lo])
    # permutation: shuffle values within each group, recompute the widest gap
    order = np.argsort(rng.random((resamples, *m.shape)), axis=2)
    shuffled = np.take_along_axis(np.broadcast_to(m, (resamples, *m.shape)), order, axis=2)
    null = _spread(shuffled.mean(axis=1))
    p = float((np.sum(null >= gap - 1e-12) + 1) / (resamples + 1)) if gap > 1e-12 else 1.0
    diff = m[:, hi] - m[:, lo]
    idx = rng.integers(0, len(m), size=(resamples, len(m)))
    low, high = np.percentile(diff[idx].mean(axis=1), [2.5, 97.5])
    return {"gap": gap, "ci_low": float(low), "ci_high": float(high), "p_value": p, "lower": values[lo],
            "higher": values[hi], "means": {v: float(x) for v, x in zip(values, means)}, "n_groups": len(m)}


def amplification(base, other, resamples: int, rng) -> dict[str, Any]:
    """Other's gap minus base's gap (each its widest pair), paired over groups."""
    import numpy as np

    usable = ~(np.isnan(base).any(axis=1) | np.isnan(other).any(axis=1))
    b, o = base[usable], other[usable]
    if len(b) < 2:
        return {"difference": None, "ci_low": None, "ci_high": None, "p_value": None, "base_gap": None,
                "skipped": "fewer than 2 complete groups"}
    observed = float(_spread(o.mean(axis=0)) - _spread(b.mean(axis=0)))
    idx = rng.integers(0, len(b), size=(resamples, len(b)))
    boot = _spread(o[idx].mean(axis=1)) - _spread(b[idx].mean(axis=1))
    low, high = np.percentile(boot, [2.5, 97.5])
    swap = rng.random((resamples, len(b)))[:, :, None] < 0.5
    o_perm, b_perm = np.where(swap, b, o), np.where(swap, o, b)
    null = _spread(o_perm.mean(axis=1)) - _spread(b_perm.mean(axis=1))
    p = float((np.sum(null >= observed - 1e-12) + 1) / (resamples + 1)) if observed > 1e-12 else 1.0
    return {"difference": observed, "ci_low": float(low), "ci_high": float(high), "p_value": p,
            "base_gap": float(_spread(b.mean(axis=0))), "n_groups": len(b)}


def _headline(per_measure: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The attribute's headline: the measure with the smallest p-value (first listed on ties)."""
    tested = [(name, r) for name, r in per_measure.items() if r.get("p_value") is not None]
    if not tested:
        return {"measure": None, "gap": None, "ci_low": None, "ci_high": None, "p_value": None, "q_value": None}
    name, r = min(tested, key=lambda nr: nr[1]["p_value"])
    return {"measure": name, **{k: r.get(k) for k in ("gap", "ci_low", "ci_high", "p_value", "q_value", "lower", "higher")}}


def summary(bias: dict[str, Any]) -> dict[str, Any]:
    """What ``workbench evaluate --bias`` prints: per model and attribute the headline gap, and the amplified list."""
    keys = ("measure", "gap", "ci_low", "ci_high", "p_value", "q_value", "lower", "higher")
    return {"models": {m: {a: {k: r.get(k) for k in keys} for a, r in attrs.items()} for m, attrs in bias["models"].items()},
            "amplified": bias["amplified"]}


def page_block(bias: dict[str, Any] | None) -> dict[str, Any] | None:
    """A plain dict for the Evaluate page: a headline sentence, one row per model and attribute, the amplified list."""
    if not bias:
        return None
    rows = [{"model": m, "attribute": a, "measure": r["measure"], "gap": r["gap"], "ci_low": r["ci_low"],
             "ci_high": r["ci_high"], "p_value": r["p_value"], "q_value": r.get("q_value"), "lower": r.get("lower"),
             "higher": r.get("higher")}
            for m, attrs in bias["models"].items() for a, r in attrs.items()]
    return {"headline": headline(bias), "rows": rows, "amplified": bias["amplified"]}


def headline(bias: dict[str, Any]) -> str:
    """One sentence: amplified gaps first, else significant gaps, else none."""
    alpha = bias.get("alpha", ALPHA)
    if bias["amplified"]:
        parts = [f"{a['model']} on {a['attribute']} ({a['measure']}: gap {a['gap']:.3g} vs base {a['base_gap']:.3g}, "
                 f"p = {a['p_value']:.3g}, adjusted {a['q_value']:.3g})" for a in bias["amplified"]]
        return "Bias amplified by fine-tuning: " + "; ".join(parts) + "."
    significant = [f"{m} on {a} ({r['measure']}: {r['higher']} vs {r['lower']} gap {r['gap']:.3g}, p = {r['p_value']:.3g}, "
                   f"adjusted {r['q_value']:.3g})"
                   for m, attrs in bias["models"].items() for a, r in attrs.items()
                   if r.get("q_value") is not None and r["q_value"] < alpha]
    if significant:
        return "Counterfactual gaps (not amplified): " + "; ".join(significant) + "."
    return (f"No significant counterfactual gap for any model or attribute (Benjamini-Hochberg adjusted p >= {alpha} "
            "over each model's tests).")


def check_probes(table: pl.DataFrame, example_ids: pl.Series, wanted: bool | None) -> pl.DataFrame | None:
    """The probe tags of the evaluated rows, None when bias analysis is off or (auto) there are no probes.

    ``wanted``: True = required (an error without probe rows), None = when probes are present, False = off.
    """
    if wanted is False:
        return None
    tags = probe_tags(table).filter(pl.col("id").is_in(example_ids.implode()))
    if tags.height == 0 and wanted:
        from workbench.errors import WorkbenchError

        raise WorkbenchError("bias analysis is on but no evaluated row is a counterfactual probe "
                             "(meta.cf_attribute / cf_value / cf_group)",
                             hint="evaluate a probe suite (scenario-counterfactual, e.g. sample_data/counterfactual_suite.jsonl)")
    return tags if tags.height else None
