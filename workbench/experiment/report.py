"""The experiment's comparison as report sections (HTML, Markdown) and JSON: ``<runs>/<experiment>/report.*``.

Uses the run report's blocks and renderers, so escaping is the same: every
variant name goes through ``html.escape`` (and Markdown's cell escaping).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from workbench.report import fmt
from workbench.report.document import Chart, P, Section, Table

HOLM = ("Holm's step-down correction adjusts the p-values of each family of tests (every variant and metric "
        "against one reference) for the number of tests in it; the verdict uses it: 'better' or 'worse' only when "
        "'Holm p' is below 0.05.")


def experiment_sections(c: dict[str, Any]) -> list[Section]:
    """Overview, runs, the two comparisons, seeds and learning curves of a :func:`build_comparison` result."""
    sections = [_overview(c), _against(c, "vs_reference", f"Against the reference variant ({c['reference']})"),
                _against(c, "vs_base", "Against the base model")]
    if c["seeds"]:
        sections.append(_seeds(c))
    sections += [_curve(curve) for curve in c["learning_curves"]]
    return sections


def _overview(c: dict[str, Any]) -> Section:
    shared = c["vs_base"]["shared_examples"]
    counts = set(c["vs_base"]["examples"].values())
    blocks: list[Any] = [P(f"Experiment {c['experiment']}: {len(c['variants'])} run(s) of the same pipeline with one "
                           f"patch each, evaluated on the same held-out rows with the same decoding. Reference "
                           f"variant: {c['reference']}. {shared} examples were evaluated by every model.")]
    if len(counts) > 1:
        blocks.append(P("The variants evaluated different numbers of rows; the paired tests use the rows both "
                        "sides evaluated (see 'paired').", tone="warn"))
    if c["runs_missing"]:
        blocks.append(P(f"Not finished yet, left out: {', '.join(c['runs_missing'])}.", tone="warn"))
    blocks.append(Table(["variant", "run folder", "training rows", "seconds (all steps)", "steps reused",
                         "ship verdict"],
                        [[v["label"], v["run"], v["train_rows"], v["seconds"], len(v["reused_steps"]),
                          _verdict(v.get("verdict"))] for v in c["variants"]]))
    return Section(f"Experiment {c['experiment']}", blocks, level=1)


def _against(c: dict[str, Any], key: str, title: str) -> Section:
    t = c[key]
    rows = []
    for row in t["rows"]:
        for label in t["columns"]:
            cell = row["cells"].get(label) or {}
            d = cell.get("vs_reference")
            if d:
                rows.append([label, row["metric"], fmt.score_ci(cell), d.get("n_paired"), d.get("difference"),
                             fmt.ci(d), d.get("p_value"), d.get("p_holm"), fmt.verdict({**d, "p_value": d.get("p_holm")})])
    return Section(title, [
        P(f"Each variant minus {t['reference']}, per metric, on the examples both evaluated (paired on example id): "
          f"95% interval and p-value from the paired tests of the runs table (sacrebleu's paired bootstrap for BLEU, "
          f"chrF and TER; McNemar for pass/fail metrics; paired bootstrap otherwise). {HOLM}"),
        Table(["variant", "metric", "score [95% CI]", "paired", "difference", "95% CI", "p-value", "Holm p",
               "verdict (Holm)"],
              rows)])


def _verdict(v: dict[str, str] | None) -> str:
    """The run's ship verdict (workbench/evaluation/verdict.py) as its status and headline."""
    return "—" if not v else f"{v['status']}: {v['headline']}"


def _seeds(c: dict[str, Any]) -> Section:
    rows = []
    for name, metrics in c["seeds"].items():
        for metric, s in metrics.items():
            tests = [s.get(k) or {} for k in ("vs_reference", "vs_base")]
            rows.append([name, metric, s["n"], s["mean"], s["sd"], s["min"], s["max"],
                         *[x for d in tests for x in (d.get("difference"), fmt.ci(d), d.get("p_holm"))]])
    return Section("Spread across seeds", [
        P(f"Variants trained with several seeds (the train step's seed; data and split unchanged): mean, standard "
          f"deviation, smallest and largest score, and the mean tested as one against {c['reference']} and the base "
          f"model: the seeds' runs stacked and paired with the other side's (the same seed where both have it). "
          f"Holm's correction is applied within each of these two families."),
        Table(["variant", "metric", "seeds", "mean", "sd", "min", "max", f"vs {c['reference']}", "95% CI", "Holm p",
               "vs base", "95% CI", "Holm p"], rows)])


def _curve(curve: dict[str, Any]) -> Section:
    rows = [[p["label"], fmt.num(p["fraction"]), p["train_rows"], fmt.score_ci({"score": p["score"], "ci": p["ci"]}),
             _spread(p.get("spread"))] for p in curve["points"]]
    return Section(f"Learning curve: {curve['metric']}", [
        P(curve["reading"][:1].upper() + curve["reading"][1:]),
        Chart(learning_curve_chart(curve), f"{curve['metric']} against the number of training rows, 95% band"),
        Table(["variant", "data fraction", "training rows", f"{curve['metric']} [95% CI]", "across seeds"], rows)])


def _spread(s: dict[str, Any] | None) -> str:
    """A seeded point's spread; its score is the seeds' mean and its band spans their intervals."""
    return "one run" if not s else f"mean of {s['n']}: sd {fmt.num(s['sd'])}, {fmt.num(s['min'])} to {fmt.num(s['max'])}"


def learning_curve_chart(curve: dict[str, Any], width: int = 640, height: int = 280) -> str:
    """Score against training rows: a line through the points and the band of their 95% intervals."""
    points = [p for p in curve["points"] if p["score"] is not None and p["train_rows"] is not None]
    left, right, top, bottom = 60, 20, 20, 40
    xs = [p["train_rows"] for p in points] or [0]
    lows = [(p["ci"] or [p["score"]])[0] for p in points] or [0.0]
    highs = [(p["ci"] or [None, p["score"]])[-1] for p in points] or [1.0]
    x0, x1 = 0, max(xs) or 1
    y0, y1 = min(lows), max(highs)
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 1, y1 + 1

    def x(v: float) -> float:
        return left + (width - left - right) * (v - x0) / (x1 - x0)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - y0) / (y1 - y0))

    metric = escape(curve["metric"])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>{metric} against training rows</title>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#444"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#444"/>',
             f'<text x="{(left + width - right) / 2}" y="{height - 8}" text-anchor="middle" font-size="12">training rows</text>',
             f'<text x="12" y="{top + 10}" font-size="12">{metric}</text>',
             f'<text x="{left - 6}" y="{y(y1) + 4:.1f}" text-anchor="end" font-size="11">{fmt.num(y1, 3)}</text>',
             f'<text x="{left - 6}" y="{y(y0) + 4:.1f}" text-anchor="end" font-size="11">{fmt.num(y0, 3)}</text>']
    banded = [p for p in points if p["ci"]]
    if len(banded) > 1:
        upper = " ".join(f"{x(p['train_rows']):.1f},{y(p['ci'][1]):.1f}" for p in banded)
        lower = " ".join(f"{x(p['train_rows']):.1f},{y(p['ci'][0]):.1f}" for p in reversed(banded))
        parts.append(f'<polygon points="{upper} {lower}" fill="#90caf9" fill-opacity="0.45"><title>95% intervals</title></polygon>')
    if points:
        line = " ".join(f"{x(p['train_rows']):.1f},{y(p['score']):.1f}" for p in points)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for p in points:
        label = escape(f"{p['label']}: {p['train_rows']} rows, {curve['metric']} {fmt.num(p['score'])}")
        parts.append(f'<circle cx="{x(p["train_rows"]):.1f}" cy="{y(p["score"]):.1f}" r="4" fill="#1565c0">'
                     f'<title>{label}</title></circle>'
                     f'<text x="{x(p["train_rows"]):.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                     f'font-size="11">{p["train_rows"]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_experiment_report(comparison: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``report.json`` of the comparison into ``folder``."""
    from workbench.report.render import render_html, render_markdown
    from workbench.runtime import store

    folder.mkdir(parents=True, exist_ok=True)
    sections = experiment_sections(comparison)
    paths = {"html": folder / "report.html", "md": folder / "report.md", "json": folder / "report.json"}
    store.write_text(paths["html"], render_html(sections, f"Experiment {comparison['experiment']}"))
    store.write_text(paths["md"], render_markdown(sections))
    store.write_json(paths["json"], comparison)
    return paths


def experiment_of(run_dir: Path) -> dict[str, Any] | None:
    """The comparison of the experiment ``run_dir`` is a variant of (its ``report.json``), with the run's label."""
    from workbench.runtime import store

    if "--" not in run_dir.name:
        return None
    path = run_dir.parent / run_dir.name.split("--", 1)[0] / "report.json"
    try:
        comparison = store.read_json(path)
    except (OSError, ValueError):
        return None
    label = next((v["label"] for v in comparison.get("variants", []) if v.get("run") == run_dir.name), None)
    return {"label": label, "comparison": comparison, "report": str(path.with_suffix(".html"))} if label else None


def run_experiment_section(info: dict[str, Any] | None) -> Section | None:
    """In a run's own report: where the run stands in its experiment (its tests and the learning curves)."""
    if not info:
        return None
    c, label = info["comparison"], info["label"]
    variant = next(v for v in c["variants"] if v["label"] == label)
    rows = [[against, metric, d.get("difference"), fmt.ci(d), d.get("p_value"), d.get("p_holm")]
            for against, tests in ((c["reference"], variant["vs_reference"]), (c["base_model"], variant["vs_base"]))
            for metric, d in tests.items()]
    blocks: list[Any] = [P(f"This run is the variant {label} of experiment {c['experiment']} "
                           f"({len(c['variants'])} runs; the whole comparison: {info['report']}).")]
    if rows:
        blocks.append(Table(["against", "metric", "difference", "95% CI", "p-value", "Holm p"], rows))
    blocks += [P(curve["reading"]) for curve in c["learning_curves"] if any(p["label"] == label for p in curve["points"])]
    return Section("Experiment", blocks)
