"""The ship verdict: can the tuned model replace the base? Correctness first, similarity second.

chrF, BLEU and embedding similarity reward an answer that copies the house
style; a support lead needs to know first whether the facts are right, whether
the answer is about the question asked and whether general abilities
survived. One function turns an evaluation's ``results.json`` into pass /
warn / fail checks with their thresholds; the report, the Evaluate page and
``workbench bench outcome`` all show this same verdict.
"""

from __future__ import annotations

from typing import Any

ALPHA = 0.05
#: share of answers with every fact right that a model must reach to pass (warn from WARN_FACTS)
PASS_FACTS, WARN_FACTS = 0.90, 0.75
#: share of off-topic answers tolerated for a pass (warn up to WARN_OFF_TOPIC)
PASS_OFF_TOPIC, WARN_OFF_TOPIC = 0.02, 0.10
#: share of answers cut at max_new_tokens above which the scores are flagged as judging unfinished answers
WARN_CUT = 0.05
ORDER = {"pass": 0, "warn": 1, "fail": 2}


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def p_text(p: float | None) -> str:
    if p is None:
        return "p = —"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def _check(name: str, status: str, summary: str, threshold: str, detail: str = "") -> dict[str, str]:
    return {"name": name, "status": status, "summary": summary, "threshold": threshold, "detail": detail}


def facts_check(results: dict[str, Any], model: str) -> dict[str, str] | None:
    """Answers with every fact right: the model's share against the bar and against the base (McNemar)."""
    base = results["base"]
    mine = (results.get("scores", {}).get(model) or {}).get("facts") or {}
    if mine.get("score") is None:
        return None
    theirs = (results["scores"].get(base) or {}).get("facts") or {}
    c = (results.get("comparisons", {}).get(model) or {}).get("facts") or {}
    rate, base_rate = mine["score"], theirs.get("score")
    counts = (mine.get("details") or {}).get("counts") or {}
    applicable = (mine.get("details") or {}).get("applicable")
    worse = c.get("p_value") is not None and c["p_value"] < ALPHA and (c.get("difference") or 0) < 0
    status = "fail" if worse or rate < WARN_FACTS else "warn" if rate < PASS_FACTS else "pass"
    summary = (f"answers with every fact right: {base} {pct(base_rate)} -> {model} {pct(rate)} ({p_text(c.get('p_value'))})"
               if model != base and base_rate is not None else f"answers with every fact right: {model} {pct(rate)}")
    wrong = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()) if v != "correct" and n)
    detail = f"of {applicable} answers whose reference states checkable facts" + (f"; {wrong}" if wrong else "")
    return _check("facts", status, summary, f"pass >= {pct(PASS_FACTS)}, warn >= {pct(WARN_FACTS)}, "
                                            f"fail below or significantly below the base", detail)


def off_topic_check(results: dict[str, Any], model: str) -> dict[str, str] | None:
    """Answers whose nearest training answer belongs to another intent than the reference."""
    r = (results.get("scores", {}).get(model) or {}).get("off_topic") or {}
    if r.get("score") is None:
        return None
    share = r["score"]
    n = (r.get("details") or {}).get("off_topic")
    status = "pass" if share <= PASS_OFF_TOPIC else "warn" if share <= WARN_OFF_TOPIC else "fail"
    count = f"{n} of {results.get('n_examples')}" if n is not None else pct(share)
    return _check("off_topic", status, f"off-topic answers: {count} ({pct(share)})",
                  f"pass <= {pct(PASS_OFF_TOPIC)}, warn <= {pct(WARN_OFF_TOPIC)}")


def primary_check(results: dict[str, Any], model: str) -> dict[str, str] | None:
    """The primary similarity metric's change with its interval: better, no difference, or worse."""
    primary = (results.get("top_examples", {}).get(model) or {}).get("metric") or results.get("primary_metric")
    if not primary:
        return None
    c = (results.get("comparisons", {}).get(model) or {}).get(primary) or {}
    if c.get("difference") is None or c.get("skipped"):
        return None
    p, d, hib = c.get("p_value"), c["difference"], c.get("higher_is_better", True)
    significant = p is not None and p < ALPHA and d != 0
    improved = significant and (d > 0) == bool(hib)
    status = "pass" if improved else "fail" if significant else "warn"
    ci = f" [{c['ci_low']:+.3g}, {c['ci_high']:+.3g}]" if c.get("ci_low") is not None else ""
    return _check(primary, status, f"{primary}: {num(c.get('base'))} -> {num(c.get('other'))} "
                                   f"({d:+.3g}{ci}, {p_text(p)})",
                  f"pass: significantly better at p < {ALPHA}; fail: significantly worse",
                  "similarity to the reference answer: rewards the house style as much as the facts")


def forgetting_check(results: dict[str, Any], model: str) -> dict[str, str] | None:
    """General abilities: the probe set's pass rate against the base's, paired on the probes."""
    f = results.get("forgetting") or {}
    m = (f.get("models") or {}).get(model)
    b = (f.get("models") or {}).get(f.get("base") or results["base"])
    if not m or not b:
        return None
    rate, base_rate = m["pass_rate"].get("all"), b["pass_rate"].get("all")
    lost = m.get("lost") or []
    status = "fail" if m.get("flagged") else "warn" if rate is not None and base_rate is not None and rate < base_rate else "pass"
    summary = f"general probes passed: base {pct(base_rate)} -> {model} {pct(rate)}"
    if m.get("p_value") is not None:
        summary += f" ({p_text(m['p_value'])})"
    rule = f"fail: pass rate lower with p < {f.get('alpha', ALPHA)} ({f.get('test') or 'paired test on the probes'})"
    return _check("forgetting", status, summary, rule,
                  ("probes lost: " + ", ".join(lost[:12]) + (" ..." if len(lost) > 12 else "")) if lost else "")


def bias_check(results: dict[str, Any], model: str) -> dict[str, str] | None:
    """Counterfactual probes (when evaluated): a gap the model widened over the base's fails, any other significant gap warns."""
    bias = results.get("bias")
    if not bias or model not in (bias.get("models") or {}):
        return None
    from workbench.evaluation.bias import headline

    alpha = bias.get("alpha", ALPHA)
    amplified = [a for a in bias.get("amplified") or [] if a.get("model") == model]
    gaps = [a for a, r in bias["models"][model].items() if r.get("q_value") is not None and r["q_value"] < alpha]
    status = "fail" if amplified else "warn" if gaps else "pass"
    summary = (f"bias amplified on {', '.join(a['attribute'] for a in amplified)}" if amplified else
               f"counterfactual gaps on {', '.join(gaps)}" if gaps else "no significant counterfactual gap")
    return _check("bias", status, summary, f"fail: a gap significantly wider than the base's; warn: any gap with "
                                           f"adjusted p < {alpha} (Benjamini-Hochberg over the model's tests)",
                  headline(bias))


def cut_answers_check(results: dict[str, Any], model: str) -> dict[str, str] | None:
    """Answers stopped by the token budget rather than their end of turn: scores of unfinished answers mislead."""
    cut = (results.get("generation", {}).get(model) or {}).get("hit_max_new_tokens")
    n = results.get("n_examples")
    if cut is None or not n:
        return None
    cap = (results.get("decode") or {}).get("max_new_tokens")
    status = "warn" if cut / n > WARN_CUT else "pass"
    return _check("cut_answers", status, f"answers cut at max_new_tokens = {cap}: {cut} of {n}",
                  f"warn above {pct(WARN_CUT)}: the facts and similarity scores judge unfinished answers",
                  "raise decode.max_new_tokens, or leave it unset to size it from the references" if cut else "")


CHECKS = (facts_check, off_topic_check, primary_check, forgetting_check, bias_check, cut_answers_check)


def ship_verdict(results: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """Pass / warn / fail checks for ``model`` (default: ``tuned``, else the first compared model)."""
    others = list(results.get("comparisons") or {})
    model = model or ("tuned" if "tuned" in others else others[0] if others else results["base"])
    checks = [c for c in (check(results, model) for check in CHECKS) if c]
    status = max((c["status"] for c in checks), key=ORDER.__getitem__, default="warn")
    word = {"pass": "Ready to ship", "warn": "Review before shipping", "fail": "Not ready to ship"}[status]
    facts = next((c for c in checks if c["name"] == "facts"), None)
    lead = facts["summary"] if facts else "no facts check in this evaluation"
    rest = "; ".join(c["summary"] for c in checks if c is not facts)
    return {"model": model, "status": status, "headline": f"{word}: {lead}" + (f"; {rest}" if rest else ""),
            "checks": checks}
