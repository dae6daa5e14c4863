"""One comparison of an experiment's runs: every variant against the base model and the reference variant.

Built on :mod:`workbench.evaluation.runs_table` (scores with bootstrap
intervals, paired differences and p-values on the examples both evaluated),
run twice: once with the base model as the reference column, once with the
reference variant. The p-values of each family of tests (every variant and
metric against one reference) are adjusted with Holm's step-down method.
Variants with seeds get the mean and spread of each score across seeds, tested
as one: their runs are stacked seed by seed and paired with the other side's
(same seed where both have it). Variants that differ only in ``data_fraction``
form a learning curve, a seeded point being the mean of its seeds.
"""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path
from typing import Any

from workbench.evaluation.runs_table import (
    Column,
    evaluate_dirs,
    paired_difference,
    run_columns,
    runs_table,
)
from workbench.experiment.spec import Experiment, VariantRun
from workbench.runtime import store

BASE = "base model"


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment: the i-th smallest of m p-values times (m - i + 1), kept monotone, at most 1."""
    ranked = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(ranked)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(ranked):
        running = max(running, min(1.0, (m - k) * p))
        out[i] = running
    return out


def _finished(run_dir: Path) -> bool:
    from workbench.errors import WorkbenchError

    try:
        return store.read_json(run_dir / "run.json").get("state") == "finished" and bool(evaluate_dirs(run_dir))
    except (OSError, ValueError, WorkbenchError):  # no run.json yet, or no evaluate step: not in the comparison
        return False


def _run_facts(run: VariantRun, run_dir: Path) -> dict[str, Any]:
    from workbench.experiment.executor import train_rows

    status = store.read_json(run_dir / "run.json")
    steps = [store.read_json(p / "manifest.json") for p in store.step_dirs(run_dir)]
    return {"name": run.variant.name, "label": run.label, "seed": run.seed, "run": run_dir.name,
            "data_fraction": run.variant.data_fraction, "train_rows": train_rows(run_dir),
            "seconds": round(sum(m.get("seconds", 0) for m in steps), 3),
            "reused_steps": [s["name"] for s in status.get("steps", []) if s.get("reused")],
            "verdict": _verdict(run_dir)}


def _columns(run: VariantRun, run_dir: Path) -> tuple[Column, list[Column]]:
    """The run's base column and its other columns (tuned, grid trials), labelled by variant."""
    cols = run_columns(run_dir)
    base = next(c for c in cols if c.model == "base")
    others = [c for c in cols if c.model != "base"]
    for c in others:
        c.label = run.label if c.model == "tuned" else f"{run.label} / {c.model}"
    base.label = BASE
    return base, others


def _tests(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Every vs-reference test of a runs table, flat, with its Holm-adjusted p-value added in place."""
    tests = [cell["vs_reference"] | {"_metric": row["metric"], "_column": label}
             for row in table["rows"] for label, cell in row["cells"].items() if cell and "vs_reference" in cell]
    for t, adjusted in zip(tests, holm([t.get("p_value") for t in tests])):
        t["p_holm"] = adjusted
        cell = next(r for r in table["rows"] if r["metric"] == t["_metric"])["cells"][t["_column"]]
        cell["vs_reference"]["p_holm"] = adjusted
    return tests


def _verdict(run_dir: Path) -> dict[str, str] | None:
    """The tuned model's ship verdict (workbench/evaluation/verdict.py), None without a comparison to the base."""
    from workbench.evaluation.verdict import ship_verdict

    results = store.read_json(evaluate_dirs(run_dir)[0])
    if "tuned" not in (results.get("comparisons") or {}):
        return None
    v = ship_verdict(results, "tuned")
    return {"status": v["status"], "headline": v["headline"]}


def _stack(columns: list[Column], label: str) -> Column:
    """One column holding several runs' examples one after the other (ids prefixed by the run's position)."""
    import polars as pl

    frames = [c.examples.with_columns(pl.format("{}:{}", pl.lit(k), pl.col("id")).alias("id"))
              for k, c in enumerate(columns) if c.examples is not None]
    return Column(label, columns[0].run, columns[0].model, columns[0].scores,
                  pl.concat(frames, how="diagonal_relaxed") if frames else None)


def seeded_difference(ref: list[tuple[int | None, Column]], other: list[tuple[int | None, Column]], metric: str,
                      resamples: int, trials: int, seed: int) -> dict[str, Any]:
    """``other`` minus ``ref`` where either side is several seeds' runs: one paired test on the runs stacked.

    Runs are paired by seed where both sides have it, otherwise every run of one side with every run of the
    other, so the difference is that of the seeds' means (for mean metrics exactly; for BLEU/chrF/TER the
    pooled corpus score) and each (run pair, example) is one unit of the paired test.
    """
    by_seed = dict(other)
    pairs = [(a, by_seed[s]) for s, a in ref if s in by_seed] or [(a, b) for _, a in ref for _, b in other]
    summary = other[0][1].scores.get(metric, {})
    return paired_difference(_stack([a for a, _ in pairs], "ref"), _stack([b for _, b in pairs], "other"), metric,
                             summary, resamples, trials, seed)


def _brief(test: dict[str, Any]) -> dict[str, Any]:
    keys = ("difference", "ci_low", "ci_high", "p_value", "p_holm", "n_paired", "skipped")
    return {k: test[k] for k in keys if k in test}


def build_comparison(exp: Experiment, runs_dir: str | Path | None = None, *, resamples: int = 1000,
                     trials: int = 1000, seed: int = 1) -> dict[str, Any]:
    """The experiment's comparison as plain data (the JSON report; the HTML and Markdown render it)."""
    root = store.runs_root(runs_dir)
    runs = exp.runs()
    done = [(r, root / r.runfile.run.name) for r in runs if _finished(root / r.runfile.run.name)]
    missing = [r.label for r in runs if r not in [d for d, _ in done]]
    if not done:
        from workbench.errors import WorkbenchError

        raise WorkbenchError(f"experiment {exp.name}: no variant has a finished evaluated run yet",
                             hint=f"run `workbench experiment {exp.source}` first")
    columns: dict[str, list[Column]] = {}
    bases: list[Column] = []
    for run, run_dir in done:
        run_base, columns[run.label] = _columns(run, run_dir)
        bases.append(run_base)
    base = bases[0]  # every run evaluated the same base model; the first run's column stands for it
    ref_run = next((r for r, _ in done if r.variant.name == exp.reference), done[0][0])
    ref_label = ref_run.label
    flat = [c for cols in columns.values() for c in cols]
    vs_base = runs_table([base, *flat], reference=BASE, resamples=resamples, trials=trials, seed=seed)
    vs_ref = runs_table(flat, reference=ref_label, resamples=resamples, trials=trials, seed=seed)
    base_tests, ref_tests = _tests(vs_base), _tests(vs_ref)
    primary = store.read_json(evaluate_dirs(done[0][1])[0]).get("primary_metric", "chrf")
    tuned = _seed_columns(done, columns)
    variants = []
    for run, run_dir in done:
        facts = _run_facts(run, run_dir)
        facts["scores"] = {row["metric"]: (row["cells"].get(run.label) or {}).get("score") for row in vs_base["rows"]}
        facts["vs_reference"] = {t["_metric"]: _brief(t) for t in ref_tests if t["_column"] == run.label}
        facts["vs_base"] = {t["_metric"]: _brief(t) for t in base_tests if t["_column"] == run.label}
        variants.append(facts)
    return {"experiment": exp.name, "reference": ref_label, "base_model": BASE, "primary_metric": primary,
            "runs_missing": missing, "variants": variants, "vs_base": vs_base, "vs_reference": vs_ref,
            "holm": {"vs_base": len([t for t in base_tests if t.get("p_value") is not None]),
                     "vs_reference": len([t for t in ref_tests if t.get("p_value") is not None])},
            "seeds": seed_tests(seed_spread(exp, variants), tuned, base, exp.reference, resamples, trials, seed),
            "learning_curves": learning_curves(done, tuned, vs_base, primary, resamples, trials, seed)}


def _seed_columns(done: list[tuple[VariantRun, Path]], columns: dict[str, list[Column]]) -> dict[str, list[tuple[int | None, Column]]]:
    """Variant name -> (seed, tuned column) of each of its finished runs that has a tuned model."""
    out: dict[str, list[tuple[int | None, Column]]] = {}
    for run, _ in done:
        for c in columns[run.label]:
            if c.label == run.label:
                out.setdefault(run.variant.name, []).append((run.seed, c))
    return out


def seed_spread(exp: Experiment, variants: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Variant -> metric -> mean, sd, min, max and n of the scores across its seeds (variants with seeds)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for v in exp.variants:
        if not v.seeds:
            continue
        runs = [r for r in variants if r["name"] == v.name]
        metrics = {m for r in runs for m, s in r["scores"].items() if s is not None}
        out[v.name] = {}
        for m in sorted(metrics):
            values = [r["scores"][m] for r in runs if r["scores"].get(m) is not None]
            out[v.name][m] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                              "min": min(values), "max": max(values), "n": len(values)}
    return out


def seed_tests(spread: dict[str, dict[str, dict[str, Any]]], runs: dict[str, list[tuple[int | None, Column]]],
               base: Column, reference: str, resamples: int, trials: int, seed: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Add to each seeded variant's mean its paired tests against the reference variant and the base model.

    Each family (every mean against the reference; every mean against the base) gets Holm's correction.
    """
    base_runs: list[tuple[int | None, Column]] = [(None, base)]
    for key, against in (("vs_reference", runs.get(reference)), ("vs_base", base_runs)):
        tests = []
        for name, metrics in spread.items():
            for metric, entry in metrics.items():
                if against and name != reference and metric in against[0][1].scores:
                    entry[key] = _brief(seeded_difference(against, runs[name], metric, resamples, trials, seed))
                    tests.append(entry[key])
        for t, adjusted in zip(tests, holm([t.get("p_value") for t in tests])):
            t["p_holm"] = adjusted
    return spread


def learning_curves(done: list[tuple[VariantRun, Path]], tuned: dict[str, list[tuple[int | None, Column]]],
                    vs_base: dict[str, Any], metric: str, resamples: int, trials: int, seed: int) -> list[dict[str, Any]]:
    """Curves of ``metric`` against training rows, one per group of variants that differ only in data_fraction.

    A variant without ``data_fraction`` counts as the whole split (1.0). A variant with seeds is one point:
    the mean of its seeds' scores with their spread, its band spanning their 95% intervals; each step
    between neighbouring points carries the paired difference (:func:`seeded_difference`) and interval.
    """
    from workbench.experiment.executor import train_rows

    row = next((r for r in vs_base["rows"] if r["metric"] == metric), None)
    if row is None:
        return []
    groups: dict[str, dict[str, list[tuple[VariantRun, Path]]]] = {}
    for run, run_dir in done:
        if run.variant.name in tuned:
            group = groups.setdefault(run.variant.signature(with_fraction=False), {})
            group.setdefault(run.variant.name, []).append((run, run_dir))
    curves = []
    for variants in groups.values():
        if len({runs[0][0].variant.data_fraction or 1.0 for runs in variants.values()}) < 2:
            continue
        points = [_curve_point(name, runs, row, train_rows(runs[0][1])) for name, runs in variants.items()]
        points.sort(key=lambda p: (p["fraction"], p["train_rows"] or 0))
        steps = [{"from": a["label"], "to": b["label"],
                  **_brief(seeded_difference(tuned[a["label"]], tuned[b["label"]], metric, resamples, trials, seed))}
                 for a, b in itertools.pairwise(points)]
        curve = {"metric": metric, "higher_is_better": row.get("higher_is_better", True), "points": points,
                 "steps": steps}
        curve["reading"] = curve_reading(curve)
        curves.append(curve)
    return curves


def _curve_point(name: str, runs: list[tuple[VariantRun, Path]], row: dict[str, Any], rows: int | None) -> dict[str, Any]:
    """One variant on a learning curve: its score (the mean across seeds) with interval and spread."""
    cells = [row["cells"].get(r.label) or {} for r, _ in runs]
    scores = [c["score"] for c in cells if c.get("score") is not None]
    point: dict[str, Any] = {"label": name, "fraction": runs[0][0].variant.data_fraction or 1.0, "train_rows": rows,
                             "score": statistics.fmean(scores) if scores else None, "ci": cells[0].get("ci"),
                             "runs": [r.label for r, _ in runs]}
    if len(runs) > 1:
        cis = [c["ci"] for c in cells if c.get("ci")]
        point["ci"] = [min(c[0] for c in cis), max(c[1] for c in cis)] if len(cis) == len(cells) else None
        point["spread"] = {"sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                           "min": min(scores, default=None), "max": max(scores, default=None), "n": len(scores)}
    return point


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def curve_reading(curve: dict[str, Any]) -> str:
    """The curve in plain words: each step's change with its interval, then whether it is still rising."""
    metric, hib = curve["metric"], curve["higher_is_better"]
    points = {p["label"]: p for p in curve["points"]}
    parts = []
    for s in curve["steps"]:
        a, b = points[s["from"]], points[s["to"]]
        if s.get("difference") is None:
            parts.append(f"from {_pct(a['fraction'])} to {_pct(b['fraction'])} of the data {metric} was not compared "
                         f"({s.get('skipped', 'no paired scores')})")
            continue
        d = s["difference"]
        verb = "rose" if d > 0 else "fell" if d < 0 else "stayed level"
        parts.append(f"from {_pct(a['fraction'])} to {_pct(b['fraction'])} of the data ({a['train_rows']} to "
                     f"{b['train_rows']} training rows) {metric} {verb} {abs(d):.3g} points "
                     f"[{s['ci_low']:.3g}, {s['ci_high']:.3g}]")
    last = curve["steps"][-1] if curve["steps"] else {}
    if last.get("ci_low") is None:
        ending = "the last step could not be tested"
    elif (last["ci_low"] > 0) == bool(hib) and (last["ci_low"] > 0 or last["ci_high"] < 0):
        ending = f"the curve is still {'rising' if hib else 'improving'}: more data is likely to help"
    elif last["ci_low"] > 0 or last["ci_high"] < 0:
        ending = "the curve turned worse at the last step"
    else:
        ending = "the last step's interval includes zero: the curve may be flattening (or the test set is too small to tell)"
    return "; ".join(parts) + "; " + ending + "."
