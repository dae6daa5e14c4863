"""Scenario behaviour: did the answer do what the scenario expected?

Rows with an ``expected_behavior`` are checked by the rule for that behaviour
(:mod:`workbench.plugins.metrics.behavior_rules`: cue phrases, a question, content words
of earlier turns or of each request, similarity to the reference or to the
answers of the same source). Every example keeps the rule that decided it and
its evidence (matched cue, score, threshold), so a reader can see why it
passed or failed. Behaviours without a rule are reported as not judged, never
as passed. Cue rules can be added or replaced in options.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import polars as pl
from pydantic import Field

from workbench.components import Metric, Options
from workbench.evaluation.result import MetricResult, mean, skipped
from workbench.plugins.metrics import behavior_rules as br

#: behaviour -> cue phrases for behaviours outside the scenario generators' (``?`` = asks a question)
DEFAULT_RULES: dict[str, list[str]] = {
    "refuse": ["can't", "cannot", "unable", "won't", "not able", "i'm sorry", "not allowed", "decline"],
    "escalate": ["human agent", "support team", "specialist", "escalat", "colleague", "contact us", "representative"],
}


class BehaviorOptions(Options):
    rules: dict[str, list[str]] = Field(default_factory=dict,
                                        description="Extra or replacing cue rules: behaviour -> cue phrases ('?' = asks a question)")
    similarity: Literal["semantic", "chrf"] = Field(
        default="semantic", description="Text similarity of the similarity rules: MiniLM cosine or sentence chrF / 100")
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Similarity thresholds per behaviour (answer_correctly, adapt_tone, consistent_answer)")
    encoder: str | None = Field(default=None, description="Sentence encoder folder (default: embedded all-MiniLM-L6-v2)")


def check(answer: str | None, cues: list[str]) -> tuple[bool, str]:
    """Whether ``answer`` shows one of ``cues``, and the rule text that decided it."""
    text = (answer or "").lower()
    for cue in cues:
        if cue == "?":
            question = re.search(r"[^.!?\n]*\?", text)
            if question:
                return True, f"asks a question: {question.group(0).strip()!r}"
        elif cue.lower() in text:
            return True, f"contains cue {cue!r}"
    shown = ", ".join("a question" if c == "?" else repr(c) for c in cues)
    return False, f"none of: {shown}"


def _group_key(row_id: Any, source_id: Any) -> Any:
    return source_id or row_id


class Behavior(Metric):
    name = "behavior"
    description = "Pass rate of scenario rows per expected_behavior (rule and evidence shown per example)"
    version = "2"
    requires = ("expected_behavior", "prediction")
    Options = BehaviorOptions
    #: pass / fail per example: McNemar's test in comparisons
    paired_test = "mcnemar"
    #: comparisons also report each expected behaviour on its own
    group_by = "expected_behavior"

    def cases(self, frame: pl.DataFrame) -> list[br.Case | None]:
        """One :class:`Case` per row with an expected_behavior (None for the others)."""
        n = frame.height

        def col(name: str) -> list[Any]:
            return frame[name].to_list() if name in frame.columns else [None] * n

        ids = frame["id"].to_list() if "id" in frame.columns else list(range(n))
        sources, answers, behaviors = col("source_id"), col("prediction"), col("expected_behavior")
        prompts, references = col("prompt"), col("reference")
        groups: dict[Any, list[int]] = {}
        for i in range(n):
            groups.setdefault(_group_key(ids[i], sources[i]), []).append(i)
        out: list[br.Case | None] = []
        for i in range(n):
            if not behaviors[i]:
                out.append(None)
                continue
            prompt = prompts[i]
            turns = json.loads(prompt) if isinstance(prompt, str) and prompt else (prompt or [])
            key = _group_key(ids[i], sources[i])
            # the same request in other words: rows of the same behaviour from the same source, and the source itself
            group = [answers[j] or "" for j in groups[key]
                     if j != i and (behaviors[j] == behaviors[i] or (ids[j] == key and not behaviors[j]))]
            out.append(br.Case(ids[i], behaviors[i], answers[i] or "", turns, references[i], group))
        return out

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        o = self.options
        backend = o.similarity
        thresholds = br.DEFAULT_THRESHOLDS[backend] | o.thresholds
        similarity = br.TextSimilarity(backend, o.encoder)
        cases = self.cases(frame)
        if backend == "semantic":
            needed = [c for c in cases if c and c.behavior in br.NEEDS_SIMILARITY and c.behavior not in o.rules]
            similarity.prepare([t for c in needed for t in (c.answer, c.reference or "", *c.group_answers)])
        per_example: list[float | None] = [None] * frame.height
        decisions = []
        for i, case in enumerate(cases):
            if case is None:
                continue
            verdict = self.decide(case, similarity, thresholds)
            per_example[i] = None if verdict.passed is None else float(verdict.passed)
            decisions.append({"id": case.id, "behavior": case.behavior, "passed": verdict.passed,
                              "rule": f"{verdict.rule}: {verdict.reason}", "rule_name": verdict.rule,
                              "evidence": verdict.evidence})
        if not decisions:
            return skipped(self.name, "no row has an expected_behavior")
        by_behavior: dict[str, dict] = {}
        for d in decisions:
            b = by_behavior.setdefault(d["behavior"], {"n": 0, "judged": 0, "passed": 0})
            b["n"] += 1
            b["judged"] += d["passed"] is not None
            b["passed"] += bool(d["passed"])
        for b in by_behavior.values():
            b["pass_rate"] = b["passed"] / b["judged"] if b["judged"] else None
        signature = f"behavior-rules:v{self.version}|similarity:{backend}|thresholds:{json.dumps(thresholds, sort_keys=True)}"
        return MetricResult(self.name, mean(per_example), per_example, signature=signature,
                            details={"by_behavior": by_behavior, "decisions": decisions})

    def decide(self, case: br.Case, similarity: br.TextSimilarity, thresholds: dict[str, float]) -> br.Verdict:
        """The verdict of the rule for ``case.behavior``: a cue rule from options, a built-in rule, or none."""
        cues = self.options.rules.get(case.behavior) or (None if case.behavior in br.RULES
                                                          else DEFAULT_RULES.get(case.behavior))
        if cues is not None:
            passed, text = check(case.answer, cues)
            return br.Verdict(passed, "cues", text, {"cues": cues})
        rule = br.RULES.get(case.behavior)
        if rule is None:
            return br.Verdict(None, "none", f"no rule for {case.behavior!r} (add one in options.rules)")
        return rule(case, similarity, thresholds)


METRICS = (Behavior,)
