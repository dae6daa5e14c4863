"""What the user's dataset is about: requests by intent, answers, entities.

Scenarios must be about the user's domain, not a toy list, so both engines
draw from a :class:`Domain` extracted here with simple, deterministic rules:
the first user request and assistant answer of each original row, grouped by
``label`` (the intent), and entities found in the requests (the customer's
words, not the assistant's) by pattern
(order ids, amounts), by capitalisation (product names, places) and ranked by
frequency.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import polars as pl

ENTITY_KINDS = ("order_id", "amount", "product", "place")

#: pure digit runs stop at 10 so card numbers (13-19 digits) are never taken for order ids
ORDER_ID = re.compile(r"#\s?\w*\d\w*|\b[A-Z]{1,5}-?\d{3,}\b|\b\d{5,10}\b")
AMOUNT = re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:USD|EUR|GBP|dollars|euros|pounds)\b")
PLACE = re.compile(r"\b(?:in|to|from|at|near)\s+((?:[A-Z][a-z]+)(?:\s+[A-Z][a-z]+){0,2})")
CAPITALISED = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z0-9][\w'-]*)*")
#: capitalised words that are not names (sentence openers, pronouns, calendar words)
NOT_NAMES = frozenset("""
i i'm i've i'd i'll hi hello hey dear thanks thank please sorry yes no ok okay sure can could would will
what when where why how who which is are do does did my the a an it this that there here if and but or
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december you your we our us he she they
""".split())


@dataclass(frozen=True)
class Example:
    """One original row seen as a single exchange (the scenario's source)."""

    id: str
    label: str | None
    system: str | None
    request: str
    answer: str | None
    split: str | None

    @property
    def intent(self) -> str | None:
        """The label in words (``track_order`` -> ``track order``)."""
        return self.label.replace("_", " ").replace("-", " ").strip() if self.label else None


@dataclass
class Domain:
    """Examples of the user's dataset and the entities they mention."""

    examples: list[Example]
    entities: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: pl.DataFrame, *, max_entities: int = 50) -> Domain:
        examples = [ex for row in _original_rows(table) if (ex := _example(row)) is not None]
        return cls(examples, extract_entities([ex.request for ex in examples], max_entities=max_entities))

    def labels(self) -> list[str | None]:
        """Distinct labels in first-seen order (None for unlabelled rows)."""
        return list(dict.fromkeys(ex.label for ex in self.examples))

    def system_prompt(self) -> str | None:
        """The most common system prompt of the dataset (new wholly-written rows use it)."""
        counts = Counter(ex.system for ex in self.examples if ex.system)
        return min(counts, key=lambda s: (-counts[s], s)) if counts else None


def _original_rows(table: pl.DataFrame) -> list[dict]:
    if "scenario" in table.columns:
        table = table.filter(pl.col("scenario").is_null())
    cols = [c for c in ("id", "messages", "label", "split") if c in table.columns]
    return table.select(cols).to_dicts()


def _example(row: dict) -> Example | None:
    messages = row.get("messages") or []
    system = next((m["content"] for m in messages if m.get("role") == "system"), None)
    for i, m in enumerate(messages):
        if m.get("role") == "user" and (m.get("content") or "").strip():
            answer = next((n["content"] for n in messages[i + 1:] if n.get("role") == "assistant"), None)
            return Example(str(row["id"]), row.get("label"), system, m["content"].strip(),
                           answer.strip() if answer else None, row.get("split"))
    return None


def extract_entities(texts: list[str], *, max_entities: int = 50) -> dict[str, list[str]]:
    """Entities by kind, most frequent first (ties alphabetical, so deterministic)."""
    counts: dict[str, Counter] = {k: Counter() for k in ENTITY_KINDS}
    for text in texts:
        counts["order_id"].update(m.group(0).replace(" ", "") for m in ORDER_ID.finditer(text))
        counts["amount"].update(m.group(0) for m in AMOUNT.finditer(text))
        places = [m.group(1) for m in PLACE.finditer(text)
                  if m.group(1).lower() not in NOT_NAMES and not _looks_like_code(m.group(1))]
        counts["place"].update(places)
        counts["product"].update(n for n in _names(text) if n not in places)
    return {k: [v for v, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))][:max_entities]
            for k, c in counts.items()}


def _looks_like_code(word: str) -> bool:
    """Log levels, identifiers and ids (WARN, LoginViewModel, A123) are not product names."""
    return word.isupper() or any(ch.isdigit() for ch in word) or any(ch.isupper() for ch in word[1:])


def _names(text: str) -> list[str]:
    """Capitalised multi-word phrases, without a sentence's opening word or common words.

    Single capitalised words are mostly people's names and sign-offs, so products need two words.
    """
    names = []
    for m in CAPITALISED.finditer(text):
        words = m.group(0).split()
        before = text[:m.start()].rstrip()
        if not before or before[-1] in ".!?:\"'(\n":
            words = words[1:]  # the first word is capitalised because it opens the sentence
        words = [w for w in words if w.lower() not in NOT_NAMES]
        if len(words) >= 2 and not any(_looks_like_code(w) for w in words):
            names.append(" ".join(words))
    return names
