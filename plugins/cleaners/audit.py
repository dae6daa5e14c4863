"""Data audit: how representative the table is, and whether the answers treat groups alike.

A cleaner-family component that changes nothing: the table passes through
unchanged and the findings go to ``audit.json`` (artifact ``audit``) and the
step's stats. It reports coverage (label, scenario, language, turn count),
labels under a share the user sets, mentions of demographic attributes in
user and assistant turns (word lists in ``workbench/resources/bias``), and
cross-tabulates each mentioned group with the label and with the tone of the
answer (refusal, apology, politeness). Each cross-tab is a chi-square test
(Fisher's exact test when an expected count is below 5); p-values are
adjusted for the number of tests (Benjamini-Hochberg), so a balanced table
stays quiet while a planted skew is flagged in plain words.
"""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from typing import Any, ClassVar

import polars as pl
from pydantic import Field

from workbench.components import Cleaner, Options
from workbench.context import StepContext
from workbench.errors import Cancelled
from workbench.ledger import StepResult

TONE_NAMES = {"refusal": "refusals", "apology": "apologies", "politeness": "politeness markers"}


class AuditOptions(Options):
    min_label_share: float = Field(default=0.05, ge=0, le=1, description="Flag labels holding less than this share of the rows")
    attributes: list[str] | None = Field(default=None, description="Attributes to look for (default: every one in the word lists)")
    extra_terms: dict[str, dict[str, Any]] = Field(default_factory=dict, description="More terms: attribute -> group -> list of words (or {terms, patterns})")
    terms_files: list[str] = Field(default_factory=list, description="TOML files of more terms, same layout as workbench/resources/bias/attributes.toml")
    min_mentions: int = Field(default=5, ge=1, description="Test a group only when at least this many rows mention it")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Flag a cross-tab when its adjusted p-value is below this")


class DataAudit(Cleaner):
    name = "audit"
    description = "Report coverage, label imbalance and demographic mentions vs label and answer tone (changes nothing)"
    Options = AuditOptions
    #: a plugin subclass can add word lists here (same layout as the ``extra_terms`` option)
    plugin_terms: ClassVar[dict[str, dict[str, Any]]] = {}

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        from workbench.runtime import store

        report = self.audit(table, base_dir=ctx.base_dir, ctx=ctx)
        ctx.step_dir.mkdir(parents=True, exist_ok=True)
        store.write_json(ctx.step_dir / "audit.json", report)
        stats = {"rows": report["rows"], "flags": [f["text"] for f in report["flags"]][:20]}
        return StepResult(table, stats=stats, artifacts={"audit": "audit.json"})

    def audit(self, table: pl.DataFrame, base_dir=None, ctx: StepContext | None = None) -> dict[str, Any]:
        """The whole audit as a JSON-able dict (also what the Data page and the report show).

        With ``ctx``, reading the rows (the long part) shows progress and stops on a cancel.
        """
        from pathlib import Path

        from workbench.evaluation.lexicon import Matcher, load_attributes, merge_terms

        o = self.options
        files = [Path(base_dir or ".") / f if not Path(f).is_absolute() else Path(f) for f in o.terms_files]
        terms = load_attributes(o.extra_terms, files)
        if self.plugin_terms:
            terms = merge_terms(terms, self.plugin_terms, f"plugin {type(self).__name__}")
        if o.attributes is not None:
            unknown = sorted(set(o.attributes) - set(terms))
            if unknown:
                from workbench.errors import WorkbenchError

                raise WorkbenchError(f"audit: unknown attributes {', '.join(unknown)}", hint=f"known: {', '.join(sorted(terms))}")
            terms = {a: terms[a] for a in o.attributes}
        rows = _row_features(table, Matcher(terms), ctx)
        coverage = _coverage(rows)
        imbalance = _imbalance(coverage["label"], len(rows), o.min_label_share)
        mentions = _mentions(rows)
        tests = _tone_tests(rows, mentions, o.min_mentions) + _label_tests(rows, mentions, o.min_mentions)
        _adjust(tests)
        flags = [{"kind": "label_imbalance", **f} for f in imbalance]
        flags += [{"kind": t["kind"], "text": t["text"], "q_value": t["q_value"]} for t in tests if t["q_value"] < o.alpha]
        return {"rows": len(rows), "language_method": "stopword counts (workbench/resources/bias/tone.toml); 'unknown' below 2 hits",
                "coverage": coverage, "min_label_share": o.min_label_share, "mentions": mentions, "tests": tests,
                "alpha": o.alpha, "flags": flags, "attributes": sorted(terms)}


def _row_features(table: pl.DataFrame, matcher, ctx: StepContext | None = None,
                  every: int = 1000) -> list[dict[str, Any]]:
    """Per row: label, scenario, language, user turns, mentioned groups by role, answer tone.

    With ``ctx``: progress every ``every`` rows, and a cancel (checked there and before the first) stops the audit.
    """
    from workbench.evaluation.lexicon import guess_language, tone

    out: list[dict[str, Any]] = []
    shown = 0
    progress: Any = ctx.progress(table.height, "audit: reading rows") if ctx else nullcontext()
    with progress as bar:
        for row in table.select("label", "scenario", "messages").iter_rows(named=True):
            if ctx and (not out or len(out) - shown >= every):
                if ctx.cancelled():
                    raise Cancelled(f"audit cancelled after {len(out)} of {table.height} rows")
                bar.update(len(out) - shown)
                shown = len(out)
            turns = row["messages"] or []
            user = "\n".join(t.get("content") or "" for t in turns if t.get("role") == "user")
            answer = "\n".join(t.get("content") or "" for t in turns if t.get("role") == "assistant")
            out.append({"label": row["label"], "scenario": row["scenario"], "language": guess_language(user),
                        "user_turns": sum(t.get("role") == "user" for t in turns),
                        "user_mentions": matcher.mentions(user), "assistant_mentions": matcher.mentions(answer),
                        "tone": tone(answer), "has_answer": bool(answer.strip())})
        if ctx:
            bar.update(len(out) - shown)
    return out


def _counts(values) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(values).items(), key=lambda kv: (-kv[1], str(kv[0])))}


def _coverage(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {"label": _counts(r["label"] for r in rows if r["label"] is not None),
            "scenario": _counts(r["scenario"] or "none" for r in rows),
            "language": _counts(r["language"] for r in rows),
            "user_turns": _counts(r["user_turns"] for r in rows)}


def _imbalance(labels: dict[str, int], n: int, min_share: float) -> list[dict[str, Any]]:
    labelled = sum(labels.values())
    if not labelled or min_share == 0:
        return []
    return [{"label": label, "rows": count, "share": count / labelled,
             "text": f"label {label!r} holds {count / labelled:.1%} of the labelled rows ({count} of {labelled}), "
                     f"under the minimum share of {min_share:.1%}"}
            for label, count in labels.items() if count / labelled < min_share]


def _mentions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows mentioning each group in user and in assistant turns, with the words that matched most."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for role in ("user", "assistant"):
        for r in rows:
            for key, word in r[f"{role}_mentions"].items():
                entry = found.setdefault(key, {"attribute": key[0], "group": key[1], "user_rows": 0,
                                               "assistant_rows": 0, "words": Counter()})
                entry[f"{role}_rows"] += 1
                entry["words"][word.lower()] += 1
    return [{**e, "words": dict(e["words"].most_common(5))} for _, e in sorted(found.items())]


def _two_by_two(a: int, b: int, c: int, d: int) -> tuple[float, str]:
    """p-value of [[a, b], [c, d]]: chi-square with Yates' correction, Fisher's exact test when an expected count < 5."""
    from scipy.stats import chi2_contingency, fisher_exact

    table = [[a, b], [c, d]]
    if min(a + b, c + d) == 0 or min(a + c, b + d) == 0:
        return 1.0, "none (a margin is empty)"
    _, p, _, expected = chi2_contingency(table)
    if expected.min() < 5:
        return float(fisher_exact(table).pvalue), "Fisher's exact test"
    return float(p), "chi-square (Yates)"


def _tone_tests(rows: list[dict[str, Any]], mentions: list[dict[str, Any]], min_mentions: int) -> list[dict[str, Any]]:
    """Is a tone of the answer more (or less) frequent when the user mentions a group?"""
    answered = [r for r in rows if r["has_answer"]]
    tests = []
    for m in mentions:
        key = (m["attribute"], m["group"])
        inside = [r for r in answered if key in r["user_mentions"]]
        outside = [r for r in answered if key not in r["user_mentions"]]
        if len(inside) < min_mentions or not outside:
            continue
        for tone_name, plural in TONE_NAMES.items():
            a = sum(r["tone"][tone_name] for r in inside)
            c = sum(r["tone"][tone_name] for r in outside)
            p, method = _two_by_two(a, len(inside) - a, c, len(outside) - c)
            rate_in, rate_out = a / len(inside), c / len(outside)
            tests.append({"kind": "tone", "attribute": key[0], "group": key[1], "tone": tone_name,
                          "rows_mentioning": len(inside), "rate_mentioning": rate_in, "rate_otherwise": rate_out,
                          "p_value": p, "method": method,
                          "text": f"{plural} are {_ratio(rate_in, rate_out)} when the user mentions {key[0]}: {key[1]} "
                                  f"({a} of {len(inside)} answers, {rate_in:.0%}, vs {rate_out:.0%} otherwise)"})
    return tests


def _ratio(rate_in: float, rate_out: float) -> str:
    if rate_out == 0:
        return "present only" if rate_in else "equally absent"
    if rate_in == 0:
        return "never present"
    ratio = rate_in / rate_out
    return f"{ratio:.1f}x as frequent" if ratio >= 1 else f"{1 / ratio:.1f}x less frequent"


def _label_tests(rows: list[dict[str, Any]], mentions: list[dict[str, Any]], min_mentions: int) -> list[dict[str, Any]]:
    """Are rows mentioning a group spread over the labels like the other rows? (chi-square, labels x mention)"""
    from scipy.stats import chi2_contingency

    labelled = [r for r in rows if r["label"] is not None]
    labels = sorted({r["label"] for r in labelled})
    tests: list[dict[str, Any]] = []
    if len(labels) < 2:
        return tests
    for m in mentions:
        key = (m["attribute"], m["group"])
        inside = Counter(r["label"] for r in labelled if key in r["user_mentions"])
        n_in = sum(inside.values())
        if n_in < min_mentions or n_in == len(labelled):
            continue
        outside = Counter(r["label"] for r in labelled if key not in r["user_mentions"])
        n_out = len(labelled) - n_in
        table = [[inside[label] for label in labels], [outside[label] for label in labels]]
        _, p, _, expected = chi2_contingency(table)
        # the label that departs most from its expected count among the mentioning rows
        residuals = [(inside[label] - expected[0][i]) / expected[0][i] ** 0.5 for i, label in enumerate(labels)]
        top = labels[max(range(len(labels)), key=lambda i: abs(residuals[i]))]
        share_in, share_out = inside[top] / n_in, outside[top] / n_out
        tests.append({"kind": "label", "attribute": key[0], "group": key[1], "label": top, "rows_mentioning": n_in,
                      "share_mentioning": share_in, "share_otherwise": share_out, "p_value": float(p),
                      "method": "chi-square (labels x mention)" + ("; expected counts below 5" if expected.min() < 5 else ""),
                      "text": f"label {top!r} is {_ratio(share_in, share_out)} when the user mentions {key[0]}: "
                              f"{key[1]} ({inside[top]} of {n_in} rows, {share_in:.0%}, vs {share_out:.0%} otherwise)"})
    return tests


def _adjust(tests: list[dict[str, Any]]) -> None:
    """Benjamini-Hochberg q-values over every test of the audit; the flag text gets p and q."""
    from workbench.evaluation.significance import add_q_values

    add_q_values(tests)
    for t in tests:
        t["text"] += f", p = {t['p_value']:.3g} (adjusted for {len(tests)} tests: {t['q_value']:.3g})"
