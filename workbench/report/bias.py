"""The report's bias sections: the data audit, and counterfactual gaps per model and attribute with amplification.

Built from ``results["bias"]`` (:mod:`workbench.evaluation.bias`) and the
run's ``audit.json`` (the ``audit`` cleaner) as plain document blocks, so
HTML (escaped), Markdown and JSON show the same numbers.
"""

from __future__ import annotations

from typing import Any

from workbench.evaluation.bias import headline
from workbench.report import fmt
from workbench.report.document import P, Section, Table


def bias_section(r: dict[str, Any]) -> Section | None:
    bias = r.get("bias")
    if not bias:
        return None
    alpha = bias.get("alpha", fmt.ALPHA)
    blocks: list[Any] = [
        P(headline(bias), "warn" if bias["amplified"] else ""),
        P(f"Counterfactual probes: variants of the same prompt that differ in one attribute of the user. Per model, "
          f"attribute and measure, the gap is the highest minus the lowest value mean over the probe groups; p from a "
          f"permutation of the values within groups ({bias['resamples']} resamples; adjusted p: Benjamini-Hochberg over the "
          f"model's gap tests), 95% interval from a bootstrap over "
          f"groups of the paired difference of that pair. Measures: {', '.join(bias['measures'])} (quality = "
          f"{bias['primary_metric']} against the shared reference; sentiment from a small word list)."),
        Table(["attribute", "values", "complete groups", "incomplete groups"],
              [[a, ", ".join(v), bias["groups"][a], bias["incomplete_groups"][a]] for a, v in bias["values"].items()]),
    ]
    rows = [[m, a, name, g.get("higher"), g.get("lower"), g.get("gap"), fmt.ci(g), g.get("p_value"), g.get("q_value"),
             "significant" if g.get("q_value") is not None and g["q_value"] < alpha else ""]
            for m, attrs in bias["models"].items() for a, res in attrs.items() for name, g in res["measures"].items()]
    blocks.append(Table(["model", "attribute", "measure", "higher value", "lower value", "gap", "95% CI", "p-value",
                         "adjusted p", f"adjusted p < {alpha}"], rows))
    amp_rows = [[m, a, name, x.get("base_gap"), x.get("difference"), fmt.ci(x), x.get("p_value"), x.get("q_value"),
                 "AMPLIFIED" if x.get("amplified") else ""]
                for m, attrs in bias["amplification"].items() for a, res in attrs.items() for name, x in res.items()]
    if amp_rows:
        blocks.append(P("Amplification: the model's gap minus the base's gap on the same groups (paired bootstrap "
                        "interval; one-sided p from swapping the two models' answers within groups). Amplified = the "
                        f"model's own gap and the increase both at adjusted p < {alpha} (Benjamini-Hochberg over each "
                        "model's tests of that kind: many attributes and measures are tested, so some raw p-values "
                        "fall below 0.05 by chance)."))
        blocks.append(Table(["model", "attribute", "measure", "base gap", "increase", "95% CI", "p-value", "adjusted p",
                             "status"],
                            amp_rows))
    return Section("Bias: counterfactual probes", blocks)


def latest_audit(run_dir) -> dict[str, Any] | None:
    """``audit.json`` of the run's latest data-audit step (None when the run has none)."""
    from workbench.runtime import store

    for step in reversed(store.step_dirs(run_dir)):
        manifest = store.read_json(step / "manifest.json")
        if manifest.get("kind") == "clean" and (step / "audit.json").exists():
            return store.read_json(step / "audit.json")
    return None


def audit_section(audit: dict[str, Any] | None) -> Section | None:
    """The data audit of the run: flags first, then coverage, mentions and every test."""
    if not audit:
        return None
    blocks: list[Any] = [P(f"{audit['rows']} rows audited; {len(audit['flags'])} flag(s) (labels under "
                           f"{audit['min_label_share']:.0%} of the rows; tone and label cross-tabs at adjusted "
                           f"p < {audit['alpha']}, Benjamini-Hochberg). Language: {audit['language_method']}.")]
    blocks += [P(f["text"], "warn") for f in audit["flags"]]
    for name, counts in audit["coverage"].items():
        blocks.append(Table([name, "rows"], [[k, v] for k, v in counts.items()]))
    if audit["mentions"]:
        blocks.append(Table(["attribute", "group", "user turns", "assistant turns", "words"],
                            [[m["attribute"], m["group"], m["user_rows"], m["assistant_rows"],
                              ", ".join(f"{w} ({n})" for w, n in m["words"].items())] for m in audit["mentions"]]))
    if audit["tests"]:
        blocks.append(Table(["test", "attribute", "group", "tone / label", "rows mentioning", "rate mentioning",
                             "rate otherwise", "p-value", "adjusted", "method"],
                            [[t["kind"], t["attribute"], t["group"], t.get("tone") or t.get("label"), t["rows_mentioning"],
                              t.get("rate_mentioning", t.get("share_mentioning")),
                              t.get("rate_otherwise", t.get("share_otherwise")), t["p_value"], t.get("q_value"),
                              t["method"]] for t in audit["tests"]]))
    return Section("Data audit", blocks)
