"""Tokens of a chat turn, and which of them an augmenter must never touch.

Text is split into tokens that keep their trailing whitespace, so a turn can
be edited token by token and joined back byte-for-byte where nothing changed
(nlpaug's tokenizer would turn ``NW-48213`` into ``NW - 48213``).

Protected kinds: PII placeholders (``[EMAIL]``), URLs, e-mail addresses,
product codes and anything with a digit (``NW-48213``, ``$154.35``, ``3-5``),
named entities (capitalised words that do not start a sentence), and, for
word-level operations, stopwords and pronouns (``I`` never becomes
``iodine``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from workbench import resources

_PATTERNS = (
    ("placeholder", r"\[[A-Za-z_]+\]|\{[A-Za-z_]+\}|<[A-Za-z_]+>"),
    ("url", r"(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)]"),
    ("email", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("code", r"[A-Za-z]+[-_]\d[\w-]*"),
    ("number", r"[$£€#]?[A-Za-z]*\d[\w$£€%]*(?:[.,:/-][\w$£€%]+)*"),
    ("word", r"[A-Za-z]+(?:['’][A-Za-z]+)*"),
    ("other", r"[^\sA-Za-z\d]+"),
)
TOKEN_RE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS) + r"|\S")
_SENTENCE_END = {".", "!", "?", ":", ";", "\n", '"', "(", "-"}
#: kinds whose every occurrence must survive any augmentation
KEPT_KINDS = ("placeholder", "url", "email", "code", "number", "entity")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The project's English stopword list (also provisioned for NLTK)."""
    path = resources.FOLDER / "stopwords_english.txt"
    words = path.read_text(encoding="utf-8").split()
    return frozenset(words) | {w.replace("'", "’") for w in words}


@dataclass(slots=True)
class Token:
    text: str
    space: str  # whitespace that follows the token
    kind: str  # placeholder, url, email, number, entity, stopword, word, other

    @property
    def editable(self) -> bool:
        """May a word-level operation (synonym, deletion, swap) touch it?"""
        return self.kind == "word"


def tokenize(text: str) -> tuple[str, list[Token]]:
    """Leading whitespace and the tokens of ``text`` (``join`` rebuilds it)."""
    matches = list(TOKEN_RE.finditer(text))
    if not matches:
        return text, []
    stop = stopwords()
    tokens: list[Token] = []
    sentence_start = True
    ends = [m.start() for m in matches[1:]] + [len(text)]
    for m, next_start in zip(matches, ends):
        word, kind = m.group(), m.lastgroup or "other"
        space = text[m.end():next_start]
        if kind == "word":
            if word.lower() in stop:
                kind = "stopword"
            elif not word.islower():
                kind = "capitalised" if sentence_start else "entity"
        tokens.append(Token(word, space, kind))
        sentence_start = (kind == "other" and word[-1] in _SENTENCE_END) or "\n" in space
    return text[:matches[0].start()], tokens


def join(lead: str, tokens: list[Token]) -> str:
    return lead + "".join(t.text + t.space for t in tokens)


def kept_tokens(text: str) -> Counter[str]:
    """The protected tokens of ``text`` with their counts."""
    return Counter(t.text for t in tokenize(text)[1] if t.kind in KEPT_KINDS)


def protected_altered(original: str, candidate: str) -> list[str]:
    """Protected tokens of ``original`` missing (or fewer) in ``candidate``."""
    return sorted(tok for tok, n in kept_tokens(original).items() if candidate.count(tok) < n)
