"""Which rows each scenario derives from: a seeded, intent-balanced plan.

Both engines fill the same :class:`Slot` list, so a template run and a model
run with one seed are about the same source rows. Sources are dealt from a
deck that interleaves intents (labels), so every intent gets scenarios before
any gets a second. When the table is already split, training slots only use
training rows and suite slots only test rows, so no scenario leaks a row
across the split.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import WorkbenchError
from workbench.scenarios.domain import Domain, Example

MODES = ("suite", "train")
_GREETING = re.compile(r"^(?:(?:hi|hello|hey)(?: there)?|good (?:morning|afternoon|evening))\s*[,!.]?\s+", re.I)
_SIGN_OFF = re.compile(r"[.!?]?\s*(?:thanks|thank you|cheers|regards)\b[^.!?]*[.!?]*$", re.I)
#: scenario types whose conversation replays the source exchange, so the source needs an answer
NEEDS_ANSWER = frozenset({"multi_turn_context"})


@dataclass
class Slot:
    """One scenario to write: its type, mode, source row and drawn values."""

    scenario: str
    mode: str
    index: int
    source: Example
    partner: Example | None
    entities: dict[str, str] = field(default_factory=dict)
    seed: int = 0

    def values(self) -> dict[str, Any]:
        """Placeholder values for templates and prompts (None = not available)."""
        src, other = self.source, self.partner
        return {
            "request": src.request, "request_core": core(src.request), "intent": src.intent, "answer": src.answer,
            "request2": other.request if other else None, "request2_core": core(other.request) if other else None,
            "intent2": other.intent if other else None, "answer2": other.answer if other else None,
            **{kind: self.entities.get(kind) for kind in ("order_id", "amount", "product", "place")},
        }


def core(request: str) -> str | None:
    """A one-sentence request as a clause (end punctuation gone, first letter lower-cased).

    None for longer requests: they do not read well inside another sentence,
    so templates using ``{request_core}`` skip them.
    """
    text = _SIGN_OFF.sub("", _GREETING.sub("", request.strip())).strip().rstrip(".!?").strip()
    if not text or re.search(r"[.!?]\s", text) or "\n" in text:
        return None
    first = text.split(" ", 1)[0]
    if first and first != "I" and not first.startswith("I'") and not first.isupper():
        text = text[0].lower() + text[1:]
    return text


class _Deck:
    """Examples dealt round-robin over intents; each deal prefers unused rows."""

    def __init__(self, examples: list[Example], rng: random.Random) -> None:
        by_label: dict[str | None, list[Example]] = {}
        for ex in examples:
            by_label.setdefault(ex.label, []).append(ex)
        labels = sorted(by_label, key=lambda label: (label is None, str(label)))
        rng.shuffle(labels)
        for label in labels:
            rng.shuffle(by_label[label])
        longest = max((len(v) for v in by_label.values()), default=0)
        self.cards = [by_label[lb][i] for i in range(longest) for lb in labels if i < len(by_label[lb])]
        self.pos = 0

    def deal(self, accept) -> Example | None:
        for step in range(len(self.cards)):
            card = self.cards[(self.pos + step) % len(self.cards)]
            if accept(card):
                self.pos = (self.pos + step + 1) % len(self.cards)
                return card
        return None


def plan(domain: Domain, types: list[str], count: int, modes: list[str], seed: int) -> list[Slot]:
    """``count`` slots per scenario type and mode, deterministic under ``seed``."""
    if not domain.examples:
        raise WorkbenchError("no rows with a user turn to draw scenarios from",
                             hint="run a load step before the scenarios step")
    rng = random.Random(seed)
    deck = _Deck(domain.examples, rng)
    slots = []
    for mode in modes:
        for scenario in types:
            for index in range(count):
                source = deck.deal(lambda ex, scenario=scenario, mode=mode: _fits(ex, scenario, mode))
                if source is None:
                    continue
                slots.append(Slot(scenario, mode, index, source, _partner(domain, source, rng),
                                  {k: rng.choice(v) for k, v in sorted(domain.entities.items()) if v},
                                  rng.randrange(2**31)))
    return slots


def _fits(ex: Example, scenario: str, mode: str) -> bool:
    held_out = ("validation", "test") if mode == "train" else ("train", "validation")
    if ex.split in held_out:
        return False
    return ex.answer is not None or scenario not in NEEDS_ANSWER


def _partner(domain: Domain, source: Example, rng: random.Random) -> Example | None:
    """Another example, of a different intent when the dataset has several."""
    others = [ex for ex in domain.examples if ex.label != source.label] or \
             [ex for ex in domain.examples if ex.request != source.request]
    return rng.choice(others) if others else None
