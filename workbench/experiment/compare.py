"""One comparison of an experiment's runs: every variant against the base model and the reference variant.

Built on :mod:`workbench.evaluation.runs_table` (scores with bootstrap
intervals, paired differences and p-values on the examples both evaluated),
run twice: once with the base model as the reference column, once with the
reference variant. The p-values of each family of tests (every variant and
metric against one reference) are adjusted with Holm's step-down method.
Variants with seeds get the mean and spread of each score across seeds;
variants that differ only in ``data_fraction`` form a learning curve.
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
            "reused_steps": [s["name"] for s in status.get("steps", []) if s.get("reused")]}


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
    base = None
    for run, run_dir in done:
        run_base, others = _columns(run, run_dir)
        base = base or run_base
        columns[run.label] = others
    ref_run = next((r for r, _ in done if r.variant.name == exp.reference), done[0][0])
    ref_label = ref_run.label
    flat = [c for cols in columns.values() for c in cols]
    vs_base = runs_table([base, *flat], reference=BASE, resamples=resamples, trials=trials, seed=seed)
    vs_ref = runs_table(flat, reference=ref_label, resamples=resamples, trials=trials, seed=seed)
    base_tests, ref_tests = _tests(vs_base), _tests(vs_ref)
    primary = store.read_json(evaluate_dirs(done[0][1])[0]).get("primary_metric", "chrf")
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
            "seeds": seed_spread(exp, variants),
            "learning_curves": learning_curves(exp, done, columns, vs_base, primary, resamples, trials, seed)}


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


def learning_curves(exp: Experiment, done: list[tuple[VariantRun, Path]], columns: dict[str, list[Column]],
                    vs_base: dict[str, Any], metric: str, resamples: int, trials: int, seed: int) -> list[dict[str, Any]]:
    """Curves of ``metric`` against training rows, one per group of variants that differ only in data_fraction.

    A variant without ``data_fraction`` counts as the whole split (1.0); with seeds, the first seed's run
    stands for the point. Each step between neighbouring points carries its paired difference and interval.
    """
    from workbench.experiment.executor import train_rows

    row = next((r for r in vs_base["rows"] if r["metric"] == metric), None)
    if row is None:
        return []
    groups: dict[str, list[tuple[VariantRun, Path]]] = {}
    for run, run_dir in done:
        if run.seed is None or run.seed == run.variant.seeds[0]:
            groups.setdefault(run.variant.signature(with_fraction=False), []).append((run, run_dir))
    curves = []
    for members in groups.values():
        if len({r.variant.data_fraction or 1.0 for r, _ in members}) < 2:
            continue
        points = []
        for run, run_dir in members:
            cell = row["cells"].get(run.label) or {}
            points.append({"label": run.label, "fraction": run.variant.data_fraction or 1.0,
                           "train_rows": train_rows(run_dir), "score": cell.get("score"), "ci": cell.get("ci")})
        points.sort(key=lambda p: (p["fraction"], p["train_rows"] or 0))
        by_label = {c.label: c for cols in columns.values() for c in cols}
        steps = []
        for a, b in itertools.pairwise(points):
            summary = by_label[b["label"]].scores.get(metric, {})
            d = paired_difference(by_label[a["label"]], by_label[b["label"]], metric, summary, resamples, trials, seed)
            steps.append({"from": a["label"], "to": b["label"], **_brief(d)})
        curve = {"metric": metric, "higher_is_better": row.get("higher_is_better", True), "points": points,
                 "steps": steps}
        curve["reading"] = curve_reading(curve)
        curves.append(curve)
    return curves


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
