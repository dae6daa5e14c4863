"""The report as a document of plain blocks, rendered alike to HTML and Markdown.

Building the content once keeps the two formats in step; renderers only
decide how a paragraph, table, chart or word diff looks, and escape text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.evaluation.verdict import ship_verdict
from workbench.report import fmt, svg

#: metrics the verdict reports first; the similarity summary leaves them out
CORRECTNESS = ("facts", "off_topic")
TONES = {"pass": "good", "warn": "warn", "fail": "warn"}


@dataclass
class P:
    text: str
    tone: str = ""  # "", "warn" or "good"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Chart:
    svg: str
    alt: str


@dataclass
class Diff:
    segments: list[tuple[str, str]]


@dataclass
class Marked:
    """A text with some spans marked (the offending facts of an answer): (text, marked) pieces."""

    pieces: list[tuple[str, bool]]


@dataclass
class Section:
    title: str
    blocks: list[Any] = field(default_factory=list)
    level: int = 2


def build_document(report: dict[str, Any]) -> list[Section]:
    from workbench.experiment.report import run_experiment_section  # imports this module's blocks
    from workbench.report.bias import audit_section, bias_section  # imports this module's blocks

    r = report["results"]
    sections = [_overview(report)]
    sections += [s for s in (_verdict(r), *(_fluent_but_wrong(r, m) for m in r["comparisons"])) if s]
    for other, comparisons in r["comparisons"].items():
        sections += _comparison(r, other, comparisons)
    sections.append(_all_models(r))
    if r.get("samples"):
        sections.append(_samples(r["samples"]))
    sections += [s for s in (_behaviour(r), bias_section(r), _labels(r), _forgetting(r.get("forgetting")),
                             _votes(report.get("votes")), _testers(report.get("testers")),
                             _runs_table(report.get("runs_table")),
                             *(_runs_table(t, f"The same models on other data: {', '.join(t['runs'])}")
                               for t in report.get("also") or []),
                             audit_section(report.get("audit")), run_experiment_section(report.get("experiment"))) if s]
    sections += [_lineage(report["lineage"]), _method(r)]
    return sections


def _overview(report: dict[str, Any]) -> Section:
    r = report["results"]
    blocks: list[Any] = [
        P(f"Run {report['run']}, generated {report['generated']}. {r['n_examples']} examples; "
          f"every model answered the same prompts with the same decoding settings."),
        Table(["model", "reference", "answers generated", "answers from cache", "answers cut at max_new_tokens"],
              [[n, ref, r["generation"][n]["generated"], r["generation"][n]["cached"],
                r["generation"][n].get("hit_max_new_tokens")] for n, ref in r["models"].items()]),
        Table(["decoding setting", "value"], [[k, v] for k, v in r["decode"].items()]
              + ([["max_new_tokens chosen", r["max_new_tokens_reason"]]] if r.get("max_new_tokens_reason") else [])),
    ]
    for other, comparisons in r["comparisons"].items():
        v = ship_verdict(r, other)
        better = [m for m, c in comparisons.items() if fmt.verdict(c) == "better" and m not in CORRECTNESS]
        worse = [m for m, c in comparisons.items() if fmt.verdict(c) == "worse" and m not in CORRECTNESS]
        blocks.insert(1, P(f"{other} vs {r['base']}: {v['headline']}.", TONES[v["status"]]))
        blocks.append(P(f"{other} vs {r['base']}, similarity and other metrics: significantly better on "
                        f"{', '.join(better) or 'no metric'}; significantly worse on {', '.join(worse) or 'no metric'} "
                        f"(p < {fmt.ALPHA}). Similarity rewards the house style as much as the facts: read the "
                        f"correctness checks first.", "warn" if worse else ""))
    return Section(report["title"], blocks, level=1)


def _verdict(r: dict[str, Any]) -> Section | None:
    """Pass / warn / fail per correctness check, for every model compared with the base."""
    rows = [[other, c["name"], c["status"].upper(), c["summary"], c["threshold"], c["detail"]]
            for other in r["comparisons"] for c in ship_verdict(r, other)["checks"]]
    if not rows:
        return None
    return Section("Ship verdict", [
        P("Correctness first: every fact right (numbers with units, ranges, durations, menu paths, ids), the right "
          "topic, general abilities kept; similarity to the reference second."),
        Table(["model", "check", "status", "result", "threshold", "detail"], rows)])


def _fluent_but_wrong(r: dict[str, Any], model: str) -> Section | None:
    """Answers with a wrong fact or off-topic, most similar to the reference first, offending facts marked."""
    found = (r.get("fluent_but_wrong") or {}).get(model)
    if not found:
        return None
    rows = found["rows"]
    blocks: list[Any] = [P(f"{found['total']} answers of {model} state a wrong or missing fact or answer another "
                           f"question; sorted by {found['metric']}, high to low: a high similarity score does not make "
                           f"them right." + (f" The first {len(rows)} are shown." if len(rows) < found["total"] else ""),
                           "warn")] if rows else [P("None.")]
    for ex in rows:
        blocks += [P(f"Example {ex['id']} ({found['metric']} {fmt.num(ex['score'])}; {ex['problem']})"),
                   Table(["", "text"], [["question", ex["question"]], ["reference", ex["reference"]]]),
                   Marked([(text, bool(marked)) for text, marked in ex["answer_marked"]])]
    return Section(f"Fluent but wrong: {model}", blocks)


def _comparison(r: dict[str, Any], other: str, comparisons: dict[str, Any]) -> list[Section]:
    rows = [[m, *rest] for m, *rest in fmt.comparison_rows(comparisons)]
    chart_rows = [(m, c["win_tie_loss"]["wins"], c["win_tie_loss"]["ties"], c["win_tie_loss"]["losses"])
                  for m, c in comparisons.items() if c.get("win_tie_loss")]
    blocks: list[Any] = [Table(fmt.COMPARISON_HEADERS, rows)]
    if chart_rows:
        blocks.append(Chart(svg.win_tie_loss_chart(chart_rows), "wins / ties / losses per metric: see the table above"))
    judge = comparisons.get("judge")
    if judge and judge.get("details"):
        d = judge["details"]
        blocks.append(P(f"LLM judge ({judge.get('signature')}): preference for {other} {fmt.num(judge.get('other'))} "
                        f"(0.5 = no preference); position-bias disagreement between A/B and B/A orders: "
                        f"{fmt.num(d.get('position_disagreement'))} over {d.get('pairs_with_both_verdicts')} pairs."))
    sections = [Section(f"{other} compared with {r['base']}", blocks)]
    slices = r["slices"].get(other, {})
    if slices:
        metric = r["top_examples"].get(other, {}).get("metric", r["primary_metric"])
        sb: list[Any] = [P(f"Primary metric {metric}, per example, by slice.")]
        bars = []
        for column, rows_ in slices.items():
            sb.append(Table([column, "n", "base", other, "difference", "wins", "ties", "losses"],
                            [[s["value"], s["n"], s["base"], s["other"], s["difference"], s.get("wins"), s.get("ties"),
                              s.get("losses")] for s in rows_]))
            bars += [(f"{column}={s['value']}", s["difference"]) for s in rows_]
        sb.append(Chart(svg.difference_chart(bars), "differences per slice: see the tables above"))
        sections.append(Section(f"Slices: {other}", sb))
    top = r["top_examples"].get(other)
    if top:
        sections.append(_examples(f"Biggest wins: {other}", top["wins"], top["metric"], other))
        sections.append(_examples(f"Worst regressions: {other}", top["regressions"], top["metric"], other))
    return sections


def _examples(title: str, examples: list[dict[str, Any]], metric: str, other: str) -> Section:
    blocks: list[Any] = [] if examples else [P("None.")]
    for ex in examples:
        blocks += [P(f"Example {ex['id']} ({metric}: base {fmt.num(ex['base_score'])}, {other} {fmt.num(ex['other_score'])})"),
                   Table(["", "text"], [["question", ex["question"]], ["reference", ex["reference"]],
                                        ["base", ex["base_answer"]], [other, ex["other_answer"]]]),
                   Diff([tuple(s) for s in ex["diff"]])]
    return Section(title, blocks, level=3)


def _all_models(r: dict[str, Any]) -> Section:
    models = list(r["scores"])
    metrics = list(r["scores"][r["base"]])
    rows = [[m, *[r["scores"][n][m].get("score") for n in models],
             r["scores"][r["base"]][m].get("skipped") or ""] for m in metrics]
    return Section("Scores of every model", [Table(["metric", *models, "note"], rows)])


def _samples(samples: list[dict[str, Any]]) -> Section:
    models = list(samples[0]["answers"])
    return Section("Sample answers", [Table(["id", "question", "reference", *models],
                                            [[s["id"], s["question"], s["reference"], *s["answers"].values()]
                                             for s in samples])])


def _behaviour(r: dict[str, Any]) -> Section | None:
    per_model = {n: s.get("behavior", {}).get("details", {}) for n, s in r["scores"].items()}
    if not any(d.get("by_behavior") for d in per_model.values()):
        return None
    behaviours = sorted({b for d in per_model.values() for b in d.get("by_behavior", {})})
    blocks: list[Any] = [
        P("Pass rate per expected behaviour; each example was decided by the rule named below, with its evidence."),
        Table(["expected behaviour", "n", *per_model],
              [[b, next((d["by_behavior"][b]["n"] for d in per_model.values() if b in d.get("by_behavior", {})), None),
                *[d.get("by_behavior", {}).get(b, {}).get("pass_rate") for d in per_model.values()]]
               for b in behaviours])]
    for other, comparisons in r["comparisons"].items():
        groups = (comparisons.get("behavior") or {}).get("by_group", {}).get("groups", {})
        if groups:
            blocks.append(P(f"{other} vs {r['base']} per behaviour: McNemar's exact test on pass / fail of the same "
                            f"examples; 95% paired bootstrap interval of the pass-rate difference."))
            blocks.append(Table(["expected behaviour", "paired", r["base"], other, "difference", "95% CI", "p-value",
                                 "wins / ties / losses", "verdict"],
                                [[b, c.get("n_paired"), c.get("base"), c.get("other"), c.get("difference"), fmt.ci(c),
                                  c.get("p_value"), fmt.wtl(c), fmt.verdict(c)] for b, c in groups.items()]))
    decisions = {n: {x["id"]: x for x in d.get("decisions", [])} for n, d in per_model.items()}
    ids = list(decisions[r["base"]])
    blocks.append(Table(["id", "behaviour", *[f"{n}: passed" for n in decisions], *[f"{n}: rule and evidence" for n in decisions]],
                        [[i, decisions[r["base"]][i]["behavior"], *[decisions[n].get(i, {}).get("passed") for n in decisions],
                          *[decisions[n].get(i, {}).get("rule") for n in decisions]] for i in ids]))
    return Section("Scenario behaviour", blocks)


def _labels(r: dict[str, Any]) -> Section | None:
    blocks: list[Any] = []
    for name, scores in r["scores"].items():
        d = scores.get("f1", {}).get("details") or {}
        if not d.get("per_class"):
            continue
        blocks.append(P(f"{name}: macro F1 {fmt.num(d['macro']['f1'])}, micro F1 {fmt.num(d['micro']['f1'])}, "
                        f"macro precision {fmt.num(d['macro']['precision'])}, macro recall {fmt.num(d['macro']['recall'])}."))
        blocks.append(Table(["class", "precision", "recall", "F1", "support"],
                            [[c, v["precision"], v["recall"], v["f1"], v["support"]] for c, v in d["per_class"].items()]))
        conf = d["confusion"]
        blocks.append(Table(["true \\ predicted", *conf["labels"]],
                            [[t, *row] for t, row in zip(conf["labels"], conf["matrix"])]))
    return Section("Labels", blocks) if blocks else None


def _forgetting(f: dict[str, Any] | None) -> Section | None:
    if not f:
        return None
    kinds = sorted({k for m in f["models"].values() for k in m["pass_rate"] if k != "all"})
    rows = [[n, m["pass_rate"].get("all"), *(m["pass_rate"].get(k) for k in kinds), m.get("p_value"),
             ", ".join(m["lost"]) or "—", "FLAGGED" if m["flagged"] else "ok"] for n, m in f["models"].items()]
    rule = (f"flagged when it passes fewer probes than {f['base']} and McNemar's exact test on the "
            f"{f['n_probes']} probes gives p < {fmt.num(f['alpha'])}" if "alpha" in f
            else f"flagged when its pass rate drops more than {fmt.num(f['max_drop'])} below {f['base']}'s")  # older runs
    blocks: list[Any] = [P(f"General probes (knowledge, arithmetic, instructions, reasoning, language) answered by "
                           f"every model; a model is {rule}.")]
    flagged = [n for n, m in f["models"].items() if m["flagged"]]
    if flagged:
        blocks.append(P(f"Forgetting flagged for: {', '.join(flagged)}", "warn"))
    blocks.append(Table(["model", "pass rate", *kinds, "p (vs base)", "probes lost vs base", "status"], rows))
    return Section("Forgetting check", blocks)


def _votes(votes: dict[str, Any] | None) -> Section | None:
    if not votes:
        return None
    t = votes["tally"]
    blocks: list[Any] = [Table(["base", "tuned", "tie", "votes"], [[t["base"], t["tuned"], t["tie"], votes["n"]]])]
    a = votes.get("agreement")
    if a:
        blocks.append(P(f"Agreement of {len(a['voters'])} raters: {a['method']} {fmt.num(a['kappa'])} on the "
                        f"{a['examples']} examples all judged (all chose the same on {fmt.num(a['raw'])}); "
                        f"Krippendorff's alpha {fmt.num(a.get('alpha'))} (1 = perfect, 0 = chance)."))
    for model, j in (votes.get("judge") or {}).items():
        blocks.append(P(f"LLM judge vs the human majority ({model}): agrees on {fmt.num(j['agreement'])} of "
                        f"{j['examples']} examples, Cohen's kappa {fmt.num(j['kappa'])}."))
    return Section("Human preference votes", blocks)


def _testers(t: dict[str, Any] | None) -> Section | None:
    """The testers' agreement in the feedback store (``workbench serve``, the Playground)."""
    if not t:
        return None
    rows = [[what, fmt.num(f["alpha"]), f["examples"], ", ".join(f["testers"])]
            for what, f in (("ratings (1-5, thumbs as 1 or 5)", t["ratings"]), ("A/B choices", t["preferences"]))]
    return Section("Testers' agreement (feedback store)", [
        P("Krippendorff's alpha (1 = perfect, 0 = chance; none until two testers judge the same exchange or pair) "
          "over the exchanges or pairs judged by two or more testers."),
        Table(["feedback", "alpha", "judged by two or more", "testers"], rows)])


def _runs_table(t: dict[str, Any] | None, title: str = "Models and runs compared") -> Section | None:
    if not t:
        return None
    cols = t["columns"]
    counts = ", ".join(f"{c}: {n}" for c, n in t["examples"].items())
    blocks: list[Any] = [
        P(f"Every model of run(s) {', '.join(t['runs'])} in one table. Scores with 95% bootstrap intervals "
          f"({t['bootstrap_resamples']} resamples). Examples per column: {counts}; {t['shared_examples']} evaluated "
          f"by all."),
        Table(["metric", *cols], [[row["metric"], *[fmt.score_ci(row["cells"].get(c)) for c in cols]]
                                  for row in t["rows"]]),
        P(f"Differences from {t['reference']} on the examples both evaluated (paired on example id): 95% interval, "
          f"p-value (sacrebleu paired bootstrap for BLEU, chrF and TER; McNemar for pass/fail metrics; paired "
          f"bootstrap otherwise) and verdict at p < {fmt.ALPHA}."),
    ]
    others = [c for c in cols if c != t["reference"]]
    rows = []
    for row in t["rows"]:
        for c in others:
            cell = row["cells"].get(c) or {}
            d = cell.get("vs_reference")
            if d:
                rows.append([row["metric"], c, d.get("n_paired"), d.get("difference"), fmt.ci(d), d.get("p_value"),
                             fmt.verdict(d)])
    blocks.append(Table(["metric", "model", "paired examples", "difference", "95% CI", "p-value", "verdict"], rows))
    return Section(title, blocks)


def _lineage(lin: dict[str, Any]) -> Section:
    blocks: list[Any] = [
        P(f"Cleaners: {', '.join(lin['cleaners']) or 'none'}. Augmenters: {', '.join(lin['augmenters']) or 'none'}. "
          f"Scenario generators: {', '.join(lin['scenario_generators']) or 'none'}. Seed: {lin['seed']}."),
        Table(["step", "component", "plugin", "rows in", "rows out", "added", "dropped", "changed", "rejected", "seconds"],
              [[s["name"], f"{s['component']} v{s['component_version']}", f"{s['plugin']} {s['plugin_version'] or ''}",
                s["rows_in"], s["rows_out"], s["added"], s["dropped"], s["changed"], s["rejected"], s["seconds"]]
               for s in lin["steps"]]),
    ]
    reasons = [[s["name"], reason, n] for s in lin["steps"] for reason, n in (s["dropped_by_reason"] or {}).items()]
    if reasons:
        blocks.append(Table(["step", "dropped because", "rows"], reasons))
    if lin["training"]:
        blocks.append(P(f"Training: {lin['training']['component']}."))
        blocks.append(Table(["training setting", "value"], [[k, v] for k, v in lin["training"]["options"].items()]))
    return Section("Data lineage", blocks)


def _method(r: dict[str, Any]) -> Section:
    sigs = [[m, s.get("signature")] for m, s in r["scores"][r["base"]].items() if s.get("signature")]
    return Section("Method", [
        P(f"Differences are other minus base. BLEU, chrF and TER: sacrebleu paired bootstrap ({r['bootstrap_resamples']} "
          f"resamples, p-value shown) and approximate randomisation ({r['ar_trials']} trials, in the JSON). Accuracy: "
          f"McNemar's exact test. Other metrics: paired bootstrap over examples. 95% intervals are bootstrap "
          f"percentiles of the difference. Seed {r['seed']}."),
        Table(["metric", "signature"], sigs),
    ])
