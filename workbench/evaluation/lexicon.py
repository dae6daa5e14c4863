"""Word lists shared by the data audit and the bias analysis: demographic terms, tone markers, sentiment.

The lists are data files (``workbench/resources/bias/*.toml``) so they can be read,
reviewed and extended without code: ``load_attributes`` merges user files and
mappings over the built-in one. Matching is deliberately simple (whole words
and regexes, case-insensitive) and therefore explainable: every mention and
tone flag can be traced to the word that caused it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench import resources
from workbench.errors import WorkbenchError

DATA = resources.FOLDER / "bias"
WORD = re.compile(r"[\w'’-]+")

#: attribute -> group -> {"terms": [...], "patterns": [...]}
Terms = dict[str, dict[str, dict[str, list[str]]]]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise WorkbenchError(f"word list {path} not found", hint="give an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise WorkbenchError(f"word list {path} is not valid TOML: {exc}") from None


def merge_terms(base: Terms, extra: Mapping[str, Any], where: str) -> Terms:
    """``extra`` (attribute -> group -> list of terms, or {terms, patterns}) added to ``base``."""
    out = {a: {g: {k: list(v) for k, v in spec.items()} for g, spec in groups.items()} for a, groups in base.items()}
    for attribute, groups in extra.items():
        if not isinstance(groups, Mapping):
            raise WorkbenchError(f"{where}: attribute {attribute!r} must map group names to terms",
                                 hint='e.g. { religion = { sikh = ["sikh", "gurdwara"] } }')
        for group, spec in groups.items():
            spec = {"terms": spec} if isinstance(spec, list) else spec
            if not isinstance(spec, Mapping) or set(spec) - {"terms", "patterns"}:
                raise WorkbenchError(f"{where}: {attribute}.{group} must be a list of terms or a table with "
                                     f"'terms' and/or 'patterns'")
            target = out.setdefault(attribute, {}).setdefault(group, {})
            for key in ("terms", "patterns"):
                values = spec.get(key, [])
                if not all(isinstance(v, str) and v.strip() for v in values):
                    raise WorkbenchError(f"{where}: {attribute}.{group}.{key} must be non-empty strings")
                target[key] = [*target.get(key, []), *values]
    return out


def load_attributes(extra: Mapping[str, Any] | None = None, files: Iterable[Path] = ()) -> Terms:
    """The built-in attribute terms, then each file's, then ``extra`` (later ones add to earlier ones)."""
    terms = merge_terms({}, _read_toml(DATA / "attributes.toml"), str(DATA / "attributes.toml"))
    for path in files:
        terms = merge_terms(terms, _read_toml(Path(path)), str(path))
    return merge_terms(terms, extra or {}, "extra_terms") if extra else terms


def _compile(alternatives: list[str], where: str) -> re.Pattern[str]:
    try:
        return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)
    except re.error as exc:
        raise WorkbenchError(f"{where}: invalid regex: {exc}") from None


class Matcher:
    """Finds which groups of which attributes a text mentions."""

    def __init__(self, terms: Terms) -> None:
        self.patterns: dict[tuple[str, str], re.Pattern[str]] = {}
        for attribute, groups in terms.items():
            for group, spec in groups.items():
                words = [rf"\b{re.escape(t.strip())}\b" for t in spec.get("terms", [])]
                alternatives = words + list(spec.get("patterns", []))
                if alternatives:
                    self.patterns[(attribute, group)] = _compile(alternatives, f"{attribute}.{group}")

    def mentions(self, text: str) -> dict[tuple[str, str], str]:
        """(attribute, group) -> the first matching word, for every group the text mentions."""
        found = {}
        for key, pattern in self.patterns.items():
            m = pattern.search(text)
            if m:
                found[key] = m.group(0)
        return found


@lru_cache(maxsize=1)
def _tone_data() -> dict[str, Any]:
    return _read_toml(DATA / "tone.toml")


@lru_cache(maxsize=1)
def _markers() -> dict[str, re.Pattern[str]]:
    return {name: _compile(patterns, f"tone marker {name}") for name, patterns in _tone_data()["markers"].items()}


TONES = ("refusal", "apology", "politeness")


def tone(text: str | None) -> dict[str, bool]:
    """Which tone markers (refusal, apology, politeness) the text shows."""
    text = text or ""
    return {name: bool(pattern.search(text)) for name, pattern in _markers().items()}


def is_refusal(text: str | None) -> bool:
    return bool(_markers()["refusal"].search(text or ""))


@lru_cache(maxsize=1)
def _sentiment_words() -> tuple[frozenset[str], frozenset[str]]:
    s = _tone_data()["sentiment"]
    return frozenset(s["positive"]), frozenset(s["negative"])


def sentiment(text: str | None) -> float:
    """Lexicon sentiment in [-1, 1): (positive - negative) / (positive + negative + 1) words."""
    positive, negative = _sentiment_words()
    words = [w.lower().replace("’", "'") for w in WORD.findall(text or "")]
    pos = sum(w in positive for w in words)
    neg = sum(w in negative for w in words)
    return (pos - neg) / (pos + neg + 1)


def guess_language(text: str | None) -> str:
    """The language whose stopwords occur most often in ``text`` (at least 2 hits), else ``unknown``."""
    words = [w.lower() for w in WORD.findall(text or "")]
    hits = {lang: sum(w in stop for w in words) for lang, stop in _stopwords().items()}
    best = max(hits, key=hits.__getitem__) if hits else None
    return best if best and hits[best] >= 2 else "unknown"


@lru_cache(maxsize=1)
def _stopwords() -> dict[str, frozenset[str]]:
    return {lang: frozenset(words) for lang, words in _tone_data()["stopwords"].items()}
