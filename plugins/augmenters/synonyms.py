"""WordNet synonyms that keep the part of speech and never touch protected tokens.

Only lower-case content words (``kind == "word"`` in :mod:`.protect`) are
candidates: pronouns, stopwords, numbers, codes, names, URLs, e-mails and
placeholders are never replaced. Parts of speech come from WordNet's own
index, not a trained tagger (NLTK's perceptron tagger cannot be provisioned
offline):

1. a word WordNet knows under one part of speech has that one;
2. an ambiguous word after a determiner, possessive or preposition
   ("the order", "my order", "of order") is a noun; after ``to``, a modal, a
   subject pronoun or ``please`` ("to order", "I order") it is a verb;
3. anything still ambiguous is left alone.

A synonym must come from one of the word's first ``senses`` synsets of that
part of speech, be a single lower-case word, and itself be mainly that part
of speech (its most frequent WordNet sense has it), so "order" as a noun never
becomes the verb "regulate". Only base forms and regular noun plurals are
replaced (inflected verbs would need a morphological generator).

Lookups are cached per word and per (lemma, POS): after WordNet is loaded
once (a few seconds), a sentence costs a tokenization and a few dict
lookups. ``engine = "textattack"`` runs textattack's ``WordNetAugmenter``
instead (no POS check, about 10x slower; protected tokens are still
enforced by the shared filter).
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field

from .base import TextAugmenter, TextAugmentOptions, rng
from .protect import Token, join, stopwords, tokenize

NOUN_CONTEXT = frozenset("a an the my your our their his her its this that these those each every any some no "
                         "of for with about from by at in on into per another".split())
VERB_CONTEXT = frozenset("to can could will would should may might must please i you we they "
                         "don't didn't doesn't can't won't cannot".split())
_POS = ("n", "v", "a", "r")


class SynonymOptions(TextAugmentOptions):
    word_rate: float = Field(default=0.2, gt=0, le=1, description="Fraction of replaceable words replaced per turn "
                                                                  "(at least one)")
    senses: int = Field(default=1, ge=1, description="Synonyms come from this many most frequent senses")
    engine: Literal["wordnet", "textattack"] = Field(default="wordnet", description="wordnet (fast, POS-consistent) "
                                                     "or textattack (its WordNetAugmenter, for comparison)")


class Synonyms(TextAugmenter):
    name = "synonyms"
    description = "WordNet synonyms with the same part of speech; protected tokens untouched"
    Options = SynonymOptions

    def propose(self, texts: list[str], seeds: list[str], variant: int, ctx: Any) -> list[str]:
        o = self.options
        if o.engine == "textattack":
            return textattack_wordnet(texts, seeds, o.word_rate)
        lexicon = Lexicon.load(o.senses)
        return [lexicon.replace(t, rng(s), o.word_rate) for t, s in zip(texts, seeds)]


class Lexicon:
    """Cached WordNet lookups: parts of speech per word, synonyms per (lemma, POS)."""

    def __init__(self, senses: int) -> None:
        from workbench.resources.nltk_data import ensure_nltk_data

        ensure_nltk_data()
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
        self.wn, self.senses = wordnet, senses
        self.pos_of = lru_cache(maxsize=None)(self._pos_of)
        self.main_pos = lru_cache(maxsize=None)(self._main_pos)
        self.synonyms = lru_cache(maxsize=None)(self._synonyms)

    @staticmethod
    @lru_cache(maxsize=4)
    def load(senses: int = 1) -> Lexicon:
        return Lexicon(senses)

    def _pos_of(self, word: str) -> frozenset[str]:
        return frozenset(p for p in _POS if self.wn.synsets(word, p))

    def _main_pos(self, word: str) -> str | None:
        synsets = self.wn.synsets(word)
        return _simple_pos(synsets[0].pos()) if synsets else None

    def _synonyms(self, lemma: str, pos: str) -> tuple[str, ...]:
        stop = stopwords()
        out: dict[str, None] = {}
        for synset in self.wn.synsets(lemma, pos)[: self.senses]:
            for name in synset.lemma_names():
                if (name != lemma and name.isalpha() and name.islower() and name not in stop
                        and self.main_pos(name) == pos):
                    out[name] = None
        return tuple(out)

    def tag(self, tokens: list[Token], i: int) -> str | None:
        """Part of speech of ``tokens[i]`` (see module docstring), or None."""
        poses = self.pos_of(tokens[i].text)
        if len(poses) <= 1:
            return next(iter(poses), None)
        prev = tokens[i - 1].text.lower() if i else ""
        if prev in NOUN_CONTEXT and "n" in poses:
            return "n"
        if prev in VERB_CONTEXT and "v" in poses:
            return "v"
        return None

    def candidates(self, tokens: list[Token], i: int) -> tuple[str, ...]:
        """Same-POS synonyms for ``tokens[i]`` in its inflected form."""
        word = tokens[i].text
        pos = self.tag(tokens, i)
        if pos is None:
            return ()
        lemma = self.wn.morphy(word, pos)
        if lemma == word:
            return self.synonyms(word, pos)
        if pos == "n" and lemma and word in (lemma + "s", lemma + "es"):
            return tuple(_plural(s) for s in self.synonyms(lemma, pos))
        return ()

    def replace(self, text: str, r: random.Random, rate: float) -> str:
        lead, tokens = tokenize(text)
        options = {i: c for i, t in enumerate(tokens) if t.editable and len(t.text) > 2
                   and (c := self.candidates(tokens, i))}
        if not options:
            return text
        for i in r.sample(sorted(options), max(1, round(len(options) * rate))):
            tokens[i].text = r.choice(options[i])
        return join(lead, tokens)


def _simple_pos(pos: str) -> str:
    return "a" if pos == "s" else pos


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def textattack_wordnet(texts: list[str], seeds: list[str], rate: float) -> list[str]:
    """textattack's WordNetAugmenter, seeded per text (for comparison and benchmarks)."""
    from workbench.resources.nltk_data import ensure_nltk_data

    ensure_nltk_data()
    from textattack.augmentation import WordNetAugmenter

    return run_textattack(WordNetAugmenter(pct_words_to_swap=rate, transformations_per_example=1), texts, seeds)


def run_textattack(augmenter: Any, texts: list[str], seeds: list[str]) -> list[str]:
    """One augmentation per text; textattack draws from the global generators."""
    import numpy as np

    out = []
    for text, seed in zip(texts, seeds):
        random.seed(seed)
        np.random.seed(rng(seed).randrange(2**32))
        result = augmenter.augment(text)
        out.append(result[0] if result else text)
    return out
