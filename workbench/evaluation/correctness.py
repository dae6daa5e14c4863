""""Fluent but wrong": answers that read well but state a wrong fact or answer another question.

Built from the per-example results of the ``facts`` and ``off_topic`` metrics
and sorted by the primary similarity metric, high to low, so the answers a
similarity score would wave through come first. The answer's offending facts
(contradicted or invented) are located in its text so the report can mark
them; everything stays plain text here (the renderers escape it).
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from workbench.evaluation.examples import question_text
from workbench.evaluation.result import MetricResult

#: answers listed per model (the count of all of them is reported too)
MAX_ROWS = 40


def mark(text: str, spans: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, marked) where the pieces equal to one of ``spans`` (case-insensitive) are marked."""
    wanted = sorted({s for s in spans if s.strip()}, key=len, reverse=True)
    if not wanted:
        return [(text, False)]
    # whole words only: a wrong "1" is not marked inside "NW-1000"
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(s)}(?!\w)" for s in wanted), re.IGNORECASE)
    pieces: list[tuple[str, bool]] = []
    at = 0
    for m in pattern.finditer(text):
        if m.start() > at:
            pieces.append((text[at:m.start()], False))
        pieces.append((m.group(0), True))
        at = m.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


def problem_text(verdict: str | None, facts: dict[str, Any] | None, off_topic: bool, intents: tuple[Any, Any]) -> str:
    """One line naming what is wrong: the facts verdict with its facts, and the topic.

    ``facts`` is one example's entry of the facts metric: facts as "kind: value" strings, contradictions as
    [reference fact, answer fact] pairs, and ``answer_text``, the answer's own words for each of its facts.
    """
    parts = []
    if verdict and verdict not in ("correct", "no_facts") and facts:
        words = facts.get("answer_text") or {}
        contradicted = facts.get("contradicted") or []
        said = []
        if contradicted:
            said.append("contradicted: " + "; ".join(f"{words.get(a, a)} instead of {r}" for r, a in contradicted))
        missing = [f for f in facts.get("missing") or [] if f not in {r for r, _ in contradicted}]
        if missing:
            said.append("missing: " + "; ".join(missing))
        if facts.get("invented"):
            said.append("invented: " + "; ".join(words.get(f, f) for f in facts["invented"]))
        parts.append(f"facts {verdict}" + (f" ({', '.join(said)})" if said else ""))
    if off_topic:
        answer_intent, reference_intent = intents
        parts.append(f"off-topic: answers {answer_intent!s} where the question is {reference_intent!s}")
    return "; ".join(parts)


def offending(facts: dict[str, Any] | None) -> list[str]:
    """Words of the answer that state wrong facts: the answer side of contradictions, and invented facts."""
    if not facts:
        return []
    words = facts.get("answer_text") or {}
    return [words.get(a, a) for _, a in facts.get("contradicted") or []] + \
        [words.get(f, f) for f in facts.get("invented") or []]


def _applying(result: MetricResult | None) -> MetricResult | None:
    """The result when it scored the examples one by one, else None (absent or skipped)."""
    return result if result is not None and not result.skipped and result.per_example else None


def fluent_but_wrong(examples: pl.DataFrame, predictions: list[str], scores: dict[str, MetricResult],
                     primary: str | None) -> dict[str, Any] | None:
    """Wrong-fact and off-topic answers of one model, sorted by the primary metric (high to low)."""
    facts, topic = _applying(scores.get("facts")), _applying(scores.get("off_topic"))
    if facts is None and topic is None:
        return None
    none = [None] * examples.height
    wrong = [v == 0.0 for v in facts.per_example or ()] if facts else [False] * examples.height
    verdicts = facts.details.get("verdicts") or none if facts else none
    fact_lists = facts.details.get("facts") or none if facts else none
    off = [v == 1.0 for v in topic.per_example or ()] if topic else [False] * examples.height
    a_int = topic.details.get("answer_intents") or none if topic else none
    r_int = topic.details.get("reference_intents") or none if topic else none
    sim = scores.get(primary) if primary else None
    rows = []
    for i in range(examples.height):
        if not (wrong[i] or off[i]):
            continue
        answer = predictions[i] or ""
        score = sim.per_example[i] if sim is not None and sim.per_example else None
        rows.append({"id": examples["id"][i], "question": question_text(examples["prompt"][i]),
                     "reference": examples["reference"][i], "answer": answer, "score": score,
                     "facts_verdict": verdicts[i], "off_topic": off[i],
                     "problem": problem_text(verdicts[i] if wrong[i] else None, fact_lists[i], off[i],
                                             (a_int[i], r_int[i])),
                     "answer_marked": mark(answer, offending(fact_lists[i]) if wrong[i] else [])})
    rows.sort(key=lambda r: -(r["score"] if r["score"] is not None else float("-inf")))
    return {"metric": primary, "total": len(rows), "rows": rows[:MAX_ROWS]}
