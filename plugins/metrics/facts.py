"""Facts check: does the answer state the reference's checkable facts, and no others?

Similarity metrics reward an answer that reads like the reference even when
its numbers are wrong ("refund in 30 business days" for "3 to 5 business
days"). This metric extracts the facts of both texts
(:mod:`workbench.plugins.metrics.fact_extract`) and gives each example one verdict, in
this precedence:

- ``contradicted``: a reference fact is absent and the answer states a fact of
  the same kind with a value the reference does not state;
- ``missing``: some reference fact is absent;
- ``invented``: the answer states facts of a kind the reference does not
  (wrong only with ``invented_is_wrong``);
- ``correct``: every reference fact is present and nothing above applies;
- ``no_facts``: the reference states no checkable fact (not applicable).

Per example 1.0 (correct) / 0.0 / None (no facts); paired with McNemar's test.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, ClassVar

import polars as pl
from pydantic import Field

from workbench.components import Metric, Options
from workbench.evaluation.result import MetricResult, mean
from workbench.plugins.metrics.fact_extract import Fact, FactExtractor, Rule, pattern_rules

VERDICTS = ("correct", "contradicted", "missing", "invented", "no_facts")


class FactsOptions(Options):
    glossary: list[str] = Field(default_factory=list,
                                description="Names that are facts (products, plans, screens); matched case-insensitively")
    patterns: dict[str, list[str]] = Field(
        default_factory=dict, description="More fact kinds: kind -> regexes (a named group 'value' picks the value)")
    invented_is_wrong: bool = Field(default=True,
                                    description="An answer stating facts of a kind the reference does not state is wrong")


def judge(reference: list[Fact], answer: list[Fact], invented_is_wrong: bool = True) -> dict[str, Any]:
    """The verdict of one example and the lists behind it (facts as "kind: value" strings)."""
    ref_values: dict[str, set[str]] = {}
    for f in reference:
        ref_values.setdefault(f.kind, set()).add(f.value)
    stated = set(answer)
    missing = [f for f in reference if f not in stated]
    contradicted = [[str(r), str(a)] for r in missing for a in answer
                    if a.kind == r.kind and a.value not in ref_values[r.kind]]
    invented = [f for f in answer if f.kind not in ref_values]
    if not reference:
        verdict = "no_facts"
    elif contradicted:
        verdict = "contradicted"
    elif missing:
        verdict = "missing"
    elif invented and invented_is_wrong:
        verdict = "invented"
    else:
        verdict = "correct"
    return {"verdict": verdict, "reference_facts": [str(f) for f in reference], "answer_facts": [str(f) for f in answer],
            "missing": [str(f) for f in missing], "contradicted": contradicted, "invented": [str(f) for f in invented]}


def prompt_text(prompt: Any) -> str:
    """All turns of a prompt (JSON list of turns, or plain text): where ids of the conversation come from."""
    if not prompt:
        return ""
    try:
        turns = json.loads(prompt) if isinstance(prompt, str) else prompt
    except json.JSONDecodeError:
        return str(prompt)
    if isinstance(turns, list):
        return "\n".join(str(t.get("content") or "") for t in turns if isinstance(t, dict))
    return str(turns)


class Facts(Metric):
    """Fraction of answers with every reference fact right; subclass and set ``extra_rules`` to add extractors."""

    name = "facts"
    description = "Answers stating every fact of the reference (numbers, units, ranges, paths, ids) and none contradicting it"
    requires = ("prediction", "reference")
    Options = FactsOptions
    paired_test = "mcnemar"
    #: extra extractors of a subclass; they run before the built-in rules
    extra_rules: ClassVar[tuple[Rule, ...]] = ()

    def extractor(self) -> FactExtractor:
        return FactExtractor([*self.extra_rules, *pattern_rules(self.options.patterns)], self.options.glossary)

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        extractor = self.extractor()
        prompts = frame["prompt"].to_list() if "prompt" in frame.columns else [None] * frame.height
        verdicts: list[str | None] = []
        facts: list[dict[str, Any] | None] = []
        per_example: list[float | None] = []
        counts: Counter[str] = Counter()
        for answer, reference, prompt in zip(frame["prediction"], frame["reference"], prompts):
            context = prompt_text(prompt)
            stated = extractor.extract_with_text(answer, context)
            result = judge(extractor.extract(reference, context), [f for f, _ in stated], self.options.invented_is_wrong)
            result["answer_text"] = {str(f): words for f, words in stated}  # where the report marks a fact
            verdict = result.pop("verdict")
            counts[verdict] += 1
            applicable = verdict != "no_facts"
            verdicts.append(verdict if applicable else None)
            facts.append(result if applicable else None)
            per_example.append(float(verdict == "correct") if applicable else None)
        applicable = sum(v is not None for v in per_example)
        options = self.options.model_dump()
        signature = (f"facts:v{self.version}|invented_is_wrong:{options['invented_is_wrong']}"
                     f"|glossary:{len(options['glossary'])}|patterns:{json.dumps(options['patterns'], sort_keys=True)}")
        return MetricResult(self.name, mean(per_example), per_example, signature=signature,
                            details={"verdicts": verdicts, "facts": facts, "counts": dict(counts),
                                     "applicable": applicable},
                            skipped=None if applicable else "no reference states a checkable fact")


METRICS = (Facts,)
