"""Sentence-structure variation: request forms and clause order, by rules.

Rules work on one sentence of a turn at a time and keep every word that
carries meaning (names, codes and numbers are never rewritten):

- "Could you tell me about X?" <-> "Tell me about X."
- "Could you (please) V X?" <-> "Please V X."
- "I want to know X" / "I'd like to know X" -> "Could you tell me X?"
- "X because Y." <-> "Because Y, X." and "X if Y." <-> "If Y, X."

Each variant applies one rule drawn from those that match the turn; a turn
that no rule matches stays identical (and is rejected as such).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from .base import TextAugmenter, TextAugmentOptions, rng

_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_ASK = r"(?:could|can|would) you(?: please)?"
Rule = tuple[re.Pattern, Callable[[re.Match], str]]


def _lower_first(text: str) -> str:
    """Lower-case a moved clause's first word unless it is "I" or looks like a name."""
    first = text.split(" ", 1)[0]
    if first == "I" or first.startswith("I'") or (len(first) > 1 and not first[1:].islower()):
        return text
    return text[:1].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


RULES: list[Rule] = [
    (re.compile(rf"^{_ASK} tell me (?P<x>[^?!.]+)\?$", re.I), lambda m: f"Tell me {m['x']}."),
    (re.compile(r"^(?:please )?tell me (?P<x>[^?!.]+)[.!]$", re.I), lambda m: f"Could you tell me {m['x']}?"),
    (re.compile(rf"^{_ASK} (?P<x>(?!tell me)[^?!.]+)\?$", re.I), lambda m: f"Please {m['x']}."),
    (re.compile(r"^please (?P<x>[^?!.]+)[.!]$", re.I), lambda m: f"Could you {m['x']}?"),
    (re.compile(r"^I(?: want|'d like| would like) to know (?P<x>[^?!.]+)[.!?]$"), lambda m: f"Could you tell me {m['x']}?"),
    (re.compile(r"^(?P<x>[^,?!.]+?),? because (?P<y>[^?!.]+)(?P<end>[.!])$"),
     lambda m: f"Because {m['y']}, {_lower_first(m['x'])}{m['end']}"),
    (re.compile(r"^Because (?P<y>[^,?!.]+), (?P<x>[^?!.]+)(?P<end>[.!])$"),
     lambda m: f"{_upper_first(m['x'])} because {m['y']}{m['end']}"),
    (re.compile(r"^(?P<x>[^,?!.]+?),? if (?P<y>[^?!.]+)(?P<end>[.!?])$"),
     lambda m: f"If {m['y']}, {_lower_first(m['x'])}{m['end']}"),
    (re.compile(r"^If (?P<y>[^,?!.]+), (?P<x>[^?!.]+)(?P<end>[.!?])$"),
     lambda m: f"{_upper_first(m['x'])} if {m['y']}{m['end']}"),
]


class Structure(TextAugmenter):
    name = "structure"
    description = "Rephrase requests and reorder clauses by rule (\"Could you tell me X?\" <-> \"Tell me X.\")"
    Options = TextAugmentOptions

    def propose(self, texts: list[str], seeds: list[str], variant: int, ctx: Any) -> list[str]:
        return [restructure(t, rng(s)) for t, s in zip(texts, seeds)]


def restructure(text: str, r: random.Random) -> str:
    sentences = _SENTENCES.split(text.strip())
    options = [(i, m, make) for i, s in enumerate(sentences) for pattern, make in RULES if (m := pattern.match(s))]
    if not options:
        return text
    i, m, make = r.choice(options)
    sentences[i] = make(m)
    return " ".join(sentences)
