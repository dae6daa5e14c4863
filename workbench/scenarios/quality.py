"""Quality gates for generated scenarios: dedup, length bounds, diversity.

A candidate failing a gate never becomes a row; it is recorded in the ledger
as ``rejected`` with the reason, so the user sees what was discarded and why.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from workbench.ledger import Ledger
from workbench.scenarios.rows import Candidate

_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    """Case, punctuation and spacing folded away: the dedup key of a text."""
    return " ".join(_WORD.findall(text.lower()))


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct n-grams / all n-grams over the texts (0 when there are none)."""
    grams: Counter = Counter()
    for text in texts:
        words = _WORD.findall(text.lower())
        grams.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    total = sum(grams.values())
    return round(len(grams) / total, 4) if total else 0.0


def apply_gates(candidates: list[Candidate], existing: Iterable[str], ledger: Ledger, *,
                min_chars: int, max_chars: int) -> list[Candidate]:
    """Keep candidates within the length bounds and not seen before (in the data or this batch)."""
    seen = {normalise(t) for t in existing}
    kept = []
    for cand in candidates:
        text = cand.prompt
        detail = {"scenario": cand.scenario, "mode": cand.mode, "text": text}
        key = normalise(cand.user_text)
        if len(text) < min_chars:
            ledger.reject(cand.source.id, f"too short (< {min_chars} chars)", detail=detail)
        elif len(text) > max_chars:
            ledger.reject(cand.source.id, f"too long (> {max_chars} chars)", detail=detail)
        elif key in seen:
            ledger.reject(cand.source.id, "duplicate", detail=detail)
        else:
            seen.add(key)
            kept.append(cand)
    return kept


def diversity_stats(candidates: list[Candidate]) -> dict:
    """distinct-1/2 of the prompts and counts per scenario type and mode."""
    prompts = [c.prompt for c in candidates]
    return {
        "distinct_1": distinct_n(prompts, 1),
        "distinct_2": distinct_n(prompts, 2),
        "per_type": dict(sorted(Counter(c.scenario for c in candidates).items())),
        "per_mode": dict(sorted(Counter(c.mode for c in candidates).items())),
    }
