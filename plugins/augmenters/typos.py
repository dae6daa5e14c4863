"""Typos and noise: keyboard slips, character swap/insert/delete, OCR, casing, punctuation.

The default ``fast`` engine edits the tokens of :mod:`.protect` in place with
nlpaug's own keyboard and OCR confusion tables: protected tokens are never
touched and whitespace survives, at tens of thousands of sentences per
second. ``engine = "nlpaug"`` runs nlpaug's character augmenters themselves
(whitespace is normalised to single spaces) and ``engine = "textattack"``
runs textattack's ``CharSwapAugmenter``; their variants pass the same
protected-token check as every other augmenter.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field

from .base import TextAugmenter, TextAugmentOptions, rng

OPS = ("keyboard", "swap", "insert", "delete", "ocr", "case", "punctuation")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_PUNCT = re.compile(r"[.,!?;]+(?=\s|$)")
#: nlpaug treats these as protected (digits, e-mail, placeholders, URLs, capitalised words)
_NLPAUG_PROTECTED = r"^\S*(\d|@|\[|://|www\.)\S*$|^[A-Z]\S*$"


class TypoOptions(TextAugmentOptions):
    ops: list[Literal["keyboard", "swap", "insert", "delete", "ocr", "case", "punctuation"]] = Field(
        default=["keyboard", "swap", "insert", "delete"], description=f"Noise operations to draw from: {', '.join(OPS)}")
    word_rate: float = Field(default=0.1, gt=0, le=1, description="Fraction of eligible words changed per turn "
                                                                  "(at least one)")
    sentence_rate: float = Field(default=1.0, gt=0, le=1, description="Probability that a turn gets any noise")
    min_chars: int = Field(default=3, ge=1, description="Words shorter than this are left alone")
    engine: Literal["fast", "nlpaug", "textattack"] = Field(default="fast", description="fast (nlpaug's tables, "
                                                            "whitespace kept), nlpaug or textattack (CharSwapAugmenter)")
    min_similarity: float = Field(default=0.6, ge=0, le=1, description="Meaning filter: minimum MiniLM cosine "
                                                                       "(typos lower it more than synonyms do)")


class Typos(TextAugmenter):
    name = "typos"
    description = "Keyboard, character, OCR, casing and punctuation noise; protected tokens untouched"
    Options = TypoOptions

    def propose(self, texts: list[str], seeds: list[str], variant: int, ctx: Any) -> list[str]:
        o = self.options
        if o.engine == "nlpaug":
            return _nlpaug_engine(texts, seeds, o)
        if o.engine == "textattack":
            return _textattack_engine(texts, seeds, o)
        return [add_typos(t, rng(s), o) for t, s in zip(texts, seeds)]


def add_typos(text: str, r: random.Random, o: TypoOptions) -> str:
    """The ``fast`` engine: one noise operation on each drawn word.

    Only stand-alone lower-case words are eligible (see ``_word_re``), so
    names, codes, numbers, URLs, e-mails and placeholders stay as they are
    without tokenizing the whole turn.
    """
    if r.random() >= o.sentence_rate:
        return text
    words = [m.span() for m in _word_re(o.min_chars).finditer(text)]
    if not words:
        return text
    edits = {}
    for span in r.sample(words, max(1, round(len(words) * o.word_rate))):
        op = r.choice(o.ops)
        puncts = [m.span() for m in _PUNCT.finditer(text)] if op == "punctuation" else None
        if puncts:
            span = r.choice(puncts)
            edits[span] = "" if r.random() < 0.5 else text[span[0]:span[1]] * 2
        else:
            edits[span] = _char_noise(text[span[0]:span[1]], op, r)
    pieces, pos = [], 0
    for (start, end), new in sorted(edits.items()):
        pieces += [text[pos:start], new]
        pos = end
    return "".join(pieces) + text[pos:]


@lru_cache(maxsize=8)
def _word_re(min_chars: int) -> re.Pattern:
    """Lower-case words not glued to a URL, e-mail, code, placeholder or number."""
    return re.compile(r"(?<![\w@/.\[\-'’?=&#%+~:])[a-z]{" + str(min_chars) + r",}(?:['’][a-z]+)?(?![\w@/\]\-'’=&:]|\.\w)")


def _char_noise(word: str, op: str, r: random.Random) -> str:
    tables = _tables()
    i = r.randrange(1, len(word)) if len(word) > 1 else 0  # keep the first letter: typos rarely hit it
    c = word[i]
    if op == "swap" and i < len(word) - 1 and word[i + 1] != c:
        return word[:i] + word[i + 1] + c + word[i + 2:]
    if op == "insert":
        return word[:i] + r.choice(_LETTERS) + word[i:]
    if op == "delete" and len(word) > 2:
        return word[:i] + word[i + 1:]
    if op == "case":
        return word[0].swapcase() + word[1:]
    table = tables["ocr" if op == "ocr" else "keyboard"]
    options = table.get(c.lower())
    if not options:
        return word[:i] + r.choice(_LETTERS) + word[i + 1:]
    new = r.choice(options)
    return word[:i] + (new.upper() if c.isupper() else new) + word[i + 1:]


@lru_cache(maxsize=1)
def _tables() -> dict[str, dict[str, list[str]]]:
    """nlpaug's QWERTY neighbours (letters only) and OCR confusions."""
    import os

    from nlpaug.augmenter.char import OcrAug
    from nlpaug.model.char import Keyboard
    from nlpaug.util import LibraryUtil

    path = os.path.join(LibraryUtil.get_res_dir(), "char", "keyboard", "en.json")
    keyboard = Keyboard(special_char=False, numeric=False, upper_case=False, model_path=path).model
    ocr = OcrAug().model.model
    return {"keyboard": {k: [v for v in vs if v.isalpha()] for k, vs in keyboard.items()},
            "ocr": {k: list(vs) for k, vs in ocr.items() if k.isalpha()}}


def _nlpaug_engine(texts: list[str], seeds: list[str], o: TypoOptions) -> list[str]:
    import nlpaug.augmenter.char as nac

    common = dict(aug_word_p=o.word_rate, aug_char_max=1, aug_char_p=0.1, stopwords_regex=_NLPAUG_PROTECTED,
                  tokenizer=str.split, reverse_tokenizer=" ".join)
    makers = {
        "keyboard": lambda: nac.KeyboardAug(include_numeric=False, include_special_char=False, min_char=o.min_chars, **common),
        "ocr": lambda: nac.OcrAug(min_char=o.min_chars, **common),
        "swap": lambda: nac.RandomCharAug(action="swap", min_char=o.min_chars, **common),
        "insert": lambda: nac.RandomCharAug(action="insert", min_char=o.min_chars, **common),
        "delete": lambda: nac.RandomCharAug(action="delete", min_char=o.min_chars, **common),
    }
    ops = [op for op in o.ops if op in makers] or ["keyboard"]
    augs = {op: makers[op]() for op in ops}
    out = []
    for text, seed in zip(texts, seeds):
        r = rng(seed)
        random.seed(seed)  # nlpaug draws from the global generator
        out.append(augs[r.choice(ops)].augment(text)[0] if r.random() < o.sentence_rate else text)
    return out


def _textattack_engine(texts: list[str], seeds: list[str], o: TypoOptions) -> list[str]:
    from workbench.resources.nltk_data import ensure_nltk_data

    ensure_nltk_data()
    from textattack.augmentation import CharSwapAugmenter

    from .synonyms import run_textattack

    noisy = [i for i, s in enumerate(seeds) if rng(s + ":sentence").random() < o.sentence_rate]
    aug = CharSwapAugmenter(pct_words_to_swap=o.word_rate, transformations_per_example=1)
    out = list(texts)
    for i, new in zip(noisy, run_textattack(aug, [texts[i] for i in noisy], [seeds[i] for i in noisy])):
        out[i] = new
    return out
