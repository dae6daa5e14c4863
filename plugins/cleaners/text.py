"""Unicode repair and normalisation, whitespace collapse, HTML/Markdown stripping.

All rules are polars string expressions (Rust regex, Aho-Corasick), so they
run over every turn at once. Mojibake is repaired with a fixed table of the
byte sequences UTF-8 text turns into when decoded as Windows-1252 or
Latin-1 ("donâ€™t" -> "don’t"); repair runs before NFKC, which would
otherwise turn the "™" of "â€™" into "TM".
"""

from __future__ import annotations

import re
from functools import lru_cache

import polars as pl
from pydantic import Field

from workbench.components import Options

from .base import Stage, TextCleaner

ZERO_WIDTH = r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]"
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
SMART_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                "\u2013": "-", "\u2014": "-", "\u2212": "-"}


@lru_cache(maxsize=1)
def mojibake_table() -> tuple[list[str], list[str]]:
    """Garbled sequence -> intended character, longest sequences first."""
    wanted = [chr(c) for c in range(0xA0, 0x180)] + list("\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e"
                                                          "\u2020\u2021\u2022\u2026\u2030\u2039\u203a\u20ac\u2122")
    pairs: dict[str, str] = {}
    for ch in wanted:
        raw = ch.encode("utf-8")
        for codec in ("cp1252", "latin-1"):
            try:
                garbled = raw.decode(codec)
            except UnicodeDecodeError:
                continue
            if garbled != ch:
                pairs.setdefault(garbled, ch)
    ordered = sorted(pairs, key=len, reverse=True)
    return ordered, [pairs[k] for k in ordered]


def char_class(chars) -> str:
    """A regex character class of the given characters."""
    return "[" + "".join(re.escape(c) for c in sorted(set(chars))) + "]"


class UnicodeOptions(Options):
    repair_mojibake: bool = Field(default=True, description='Repair UTF-8 read as Windows-1252 ("donâ€™t" -> "don’t")')
    nfkc: bool = Field(default=True, description="Apply Unicode NFKC normalisation (full-width letters, ligatures, nbsp)")
    ascii_quotes: bool = Field(default=True, description="Replace smart quotes and dashes with ASCII ' \" -")
    strip_invisible: bool = Field(default=True, description="Remove zero-width and control characters (keeps newlines and tabs)")


class UnicodeNormalize(TextCleaner):
    name = "unicode"
    row_wise = True
    description = "Repair mojibake, NFKC-normalise, ASCII quotes, remove zero-width and control characters"
    Options = UnicodeOptions
    reason = "unicode normalised"

    def stages(self) -> list[Stage]:
        o = self.options
        garbled, fixed = mojibake_table()
        stages: list[Stage] = []
        if o.repair_mojibake:
            stages.append(Stage("mojibake", lambda e: e.str.replace_many(garbled, fixed), char_class(g[0] for g in garbled)))
        if o.strip_invisible:
            stages.append(Stage("invisible", lambda e: e.str.replace_all("\r\n", "\n", literal=True)
                                .str.replace_all(ZERO_WIDTH, "").str.replace_all(CONTROL, ""), rf"\r|{ZERO_WIDTH}|{CONTROL}"))
        if o.nfkc:  # ASCII text is already NFKC
            stages.append(Stage("nfkc", lambda e: e.str.normalize("NFKC"), r"[^\x00-\x7F]"))
        if o.ascii_quotes:
            stages.append(Stage("quotes", lambda e: e.str.replace_many(list(SMART_QUOTES), list(SMART_QUOTES.values())),
                                char_class(SMART_QUOTES)))
        return stages


class WhitespaceOptions(Options):
    keep_paragraphs: bool = Field(default=True, description="Keep single blank lines between paragraphs (else join lines)")


class Whitespace(TextCleaner):
    name = "whitespace"
    row_wise = True
    description = "Collapse runs of spaces, trim lines and turns, at most one blank line in a row"
    Options = WhitespaceOptions
    reason = "whitespace collapsed"

    def stages(self) -> list[Stage]:
        def collapse(e: pl.Expr) -> pl.Expr:
            e = e.str.replace_all(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+", " ")
            e = e.str.replace_all(r" ?\n ?", "\n")
            e = e.str.replace_all(r"\n{3,}", "\n\n") if self.options.keep_paragraphs else e.str.replace_all(r"\n+", " ")
            return e.str.strip_chars()

        # something to collapse: a run of spaces, other blanks, a space at a line break, 3 line breaks, blank ends
        lines = r"\n\n\n" if self.options.keep_paragraphs else r"\n"
        return [Stage("whitespace", collapse, rf"[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]|  | \n|\n |{lines}|^\s|\s$")]


class MarkupOptions(Options):
    html: bool = Field(default=True, description="Remove HTML tags and decode common entities (<br> and </p> become newlines)")
    markdown: bool = Field(default=False, description="Remove Markdown emphasis, inline code, headings, links and images (keeps text)")


HTML_ENTITIES = {"&nbsp;": " ", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'"}


class StripMarkup(TextCleaner):
    name = "strip-markup"
    row_wise = True
    description = "Strip HTML tags and entities, optionally Markdown formatting, keeping the text"
    Options = MarkupOptions
    reason = "markup stripped"

    def stages(self) -> list[Stage]:
        stages: list[Stage] = []
        if self.options.html:
            stages.append(Stage("html", lambda e: e.str.replace_all(r"(?i)<br\s*/?>|</p\s*>", "\n")
                           .str.replace_all(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>", "")
                           .str.replace_many(list(HTML_ENTITIES), list(HTML_ENTITIES.values())), "[<&]"))
        if self.options.markdown:
            stages.append(Stage("markdown", _strip_markdown, r"[\[#*_`]"))
        return stages


def _strip_markdown(e: pl.Expr) -> pl.Expr:
    e = e.str.replace_all(r"!\[([^\]\n]*)\]\([^)\n]*\)", "$1")          # images -> alt text
    e = e.str.replace_all(r"\[([^\]\n]+)\]\([^)\n]*\)", "$1")           # links -> link text
    e = e.str.replace_all(r"(?m)^#{1,6}[ \t]+", "")                       # headings
    e = e.str.replace_all(r"\*\*([^*\n]+)\*\*|__([^_\n]+)__", "$1$2")     # bold
    e = e.str.replace_all(r"\*([^*\n]+)\*", "$1")                          # italics
    return e.str.replace_all(r"`([^`\n]+)`", "$1")                         # inline code
