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


def surface(fact: Any, texts: dict[str, str] | None = None) -> str:
    """The words stating a fact in the answer (``answer_text`` of the facts metric), else the fact itself."""
    key = str(fact.get("text") or fact.get("value") or "") if isinstance(fact, dict) else str(fact)
    return (texts or {}).get(key, key)


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
    """One line naming what is wrong: the facts verdict with its facts, and the topic."""
    parts = []
    if verdict and verdict not in ("correct", "no_facts") and facts:
        texts = facts.get("answer_text") or {}
        said = []
        if facts.get("contradicted"):
            said.append("contradicted: " + "; ".join(f"{surface(_pair_items(p)[1], texts)} instead of "
                                                     f"{surface(_pair_items(p)[0])}" for p in facts["contradicted"]))
        contradicted = {str(_pair_items(p)[0]) for p in facts.get("contradicted") or []}
        missing = [f for f in facts.get("missing") or [] if str(f) not in contradicted]
        if missing:
            said.append("missing: " + "; ".join(surface(f) for f in missing))
        if facts.get("invented"):
            said.append("invented: " + "; ".join(surface(f, texts) for f in facts["invented"]))
        parts.append(f"facts {verdict}" + (f" ({', '.join(said)})" if said else ""))
    if off_topic:
        answer_intent, reference_intent = intents
        parts.append(f"off-topic: answers {answer_intent!s} where the question is {reference_intent!s}")
    return "; ".join(parts)


def _pair_items(pair: Any) -> tuple[Any, Any]:
    """(reference fact, answer fact) of a contradiction, whether stored as a pair or a dict."""
    if isinstance(pair, dict):
        return pair.get("reference"), pair.get("answer")
    return (pair[0], pair[1]) if isinstance(pair, (list, tuple)) and len(pair) == 2 else (pair, pair)


def offending(facts: dict[str, Any] | None) -> list[str]:
    """Words of the answer that state wrong facts: the answer side of contradictions, and invented facts."""
    if not facts:
        return []
    texts = facts.get("answer_text") or {}
    return [surface(_pair_items(p)[1], texts) for p in facts.get("contradicted") or []] + \
        [surface(f, texts) for f in facts.get("invented") or []]


def fluent_but_wrong(examples: pl.DataFrame, predictions: list[str], scores: dict[str, MetricResult],
                     primary: str | None) -> dict[str, Any] | None:
    """Wrong-fact and off-topic answers of one model, sorted by the primary metric (high to low)."""
    facts, topic = scores.get("facts"), scores.get("off_topic")
    usable = [r for r in (facts, topic) if r is not None and not r.skipped and r.per_example]
    if not usable:
        return None
    verdicts = (facts.details.get("verdicts") if facts and not facts.skipped else None) or [None] * examples.height
    fact_lists = (facts.details.get("facts") if facts and not facts.skipped else None) or [None] * examples.height
    flags = (topic.per_example if topic and not topic.skipped and topic.per_example else None) or [None] * examples.height
    a_int = (topic.details.get("answer_intents") if topic and not topic.skipped else None) or [None] * examples.height
    r_int = (topic.details.get("reference_intents") if topic and not topic.skipped else None) or [None] * examples.height
    sim = scores.get(primary) if primary else None
    rows = []
    for i in range(examples.height):
        wrong_facts = facts is not None and facts.per_example is not None and facts.per_example[i] == 0.0
        off = flags[i] == 1.0
        if not (wrong_facts or off):
            continue
        answer = predictions[i] or ""
        score = sim.per_example[i] if sim is not None and sim.per_example else None
        rows.append({"id": examples["id"][i], "question": question_text(examples["prompt"][i]),
                     "reference": examples["reference"][i], "answer": answer, "score": score,
                     "facts_verdict": verdicts[i], "off_topic": off,
                     "problem": problem_text(verdicts[i] if wrong_facts else None, fact_lists[i], off, (a_int[i], r_int[i])),
                     "answer_marked": mark(answer, offending(fact_lists[i]) if wrong_facts else [])})
    rows.sort(key=lambda r: -(r["score"] if r["score"] is not None else float("-inf")))
    return {"metric": primary, "total": len(rows), "rows": rows[:MAX_ROWS]}
