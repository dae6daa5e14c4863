"""EDA operations (Wei & Zou 2019): random insertion, swap and deletion of words.

Only editable words (lower-case content words, see :mod:`.protect`) are
inserted, swapped or deleted; protected tokens keep their place. Insertion
adds a same-POS WordNet synonym of a word of the turn (see :mod:`.synonyms`).
Each variant applies one operation drawn from ``ops``.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field

from .base import TextAugmenter, TextAugmentOptions, rng
from .protect import Token, join, tokenize
from .synonyms import Lexicon


class EdaOptions(TextAugmentOptions):
    ops: list[Literal["insert", "swap", "delete"]] = Field(default=["insert", "swap", "delete"],
                                                           description="EDA operations to draw from, one per variant")
    word_rate: float = Field(default=0.1, gt=0, le=0.5, description="Fraction of editable words affected (at least one)")


class Eda(TextAugmenter):
    name = "eda"
    description = "EDA random insertion, swap and deletion of unprotected words"
    Options = EdaOptions

    def propose(self, texts: list[str], seeds: list[str], variant: int, ctx: Any) -> list[str]:
        o = self.options
        lexicon = Lexicon.load() if "insert" in o.ops else None
        return [eda(t, rng(s), o.ops, o.word_rate, lexicon) for t, s in zip(texts, seeds)]


def eda(text: str, r: random.Random, ops: list[str], rate: float, lexicon: Lexicon | None) -> str:
    lead, tokens = tokenize(text)
    editable = [i for i, t in enumerate(tokens) if t.editable]
    if not editable:
        return text
    n = max(1, round(len(editable) * rate))
    op = r.choice(ops)
    if op == "swap" and len(editable) > 1:
        for _ in range(n):
            a, b = r.sample(editable, 2)
            tokens[a].text, tokens[b].text = tokens[b].text, tokens[a].text
    elif op == "delete" and len(editable) > 1:
        doomed = set(r.sample(editable, min(n, len(editable) - 1)))
        tokens = [t for i, t in enumerate(tokens) if i not in doomed]
    elif op == "insert" and lexicon is not None:
        pool = [c for i in editable for c in lexicon.candidates(tokens, i)]
        for word in r.sample(pool, min(n, len(pool))):
            at = r.choice(editable)
            tokens.insert(at, Token(word, " ", "word"))
            editable = [i for i, t in enumerate(tokens) if t.editable]
    return join(lead, tokens)
