"""PII redaction with typed placeholders: [EMAIL] [PHONE] [CARD] [IBAN] [IP] [URL] [SECRET].

Types a pattern settles alone (secrets, URLs, e-mails, IPs) are replaced by
polars over every turn at once. Types that need a check (cards: Luhn; IBANs:
ISO 7064 mod 97; phones: not an order id or reference) are first narrowed to
candidate turns with a polars pattern, and only those turns go through
Python's ``re`` with the check, so ordinary numbers such as order ids and
prices are left alone. Counts by type go to the ledger detail and stats.
"""

from __future__ import annotations

import re
from typing import Literal

import polars as pl
from pydantic import Field

from workbench.components import Cleaner, Options
from workbench.context import StepContext
from workbench.ledger import Ledger, StepResult

from .turns import ROW, explode_turns, implode_turns, json_counts, ledger_entries, mark_origin, per_row

PiiType = Literal["SECRET", "URL", "EMAIL", "IP", "IBAN", "CARD", "PHONE"]
ALL_TYPES: tuple[str, ...] = ("SECRET", "URL", "EMAIL", "IP", "IBAN", "CARD", "PHONE")

#: (pattern, replacement) per type that needs no check; run in ALL_TYPES order
PATTERNS: dict[str, list[tuple[str, str]]] = {
    "SECRET": [
        (r"(?i)\b(api[_-]?key|access[_-]?token|auth[_-]?token|secret|password|passwd)(\s*[:=]\s*)[\"']?[^\s\"',;]{6,}[\"']?",
         "${1}${2}[SECRET]"),
        (r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]{16,}=*", "${1}[SECRET]"),
        (r"\b(?:sk|pk|rk)[-_](?:live_|test_|proj-)?[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{30,}|\bAKIA[0-9A-Z]{16}\b"
         r"|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_-]{35}"
         r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", "[SECRET]"),
    ],
    "URL": [(r"(?i)\b(?:https?://|www\.)[^\s<>\"'\[\]()]*[^\s<>\"'\[\]().,;:!?]", "[URL]")],
    "EMAIL": [(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b", "[EMAIL]")],
    "IP": [
        (r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b", "[IP]"),
        (r"\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b"
         r"|\b(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}\b", "[IP]"),
    ],
}

#: patterns for types that need a check; the same text serves polars (candidates) and re (with the check)
CHECKED: dict[str, str] = {
    "IBAN": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
    "CARD": r"\b\d(?:[ -]?\d){12,18}\b",
    "PHONE": (r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}\b"
              r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}\b"
              r"|\b\d{3}[.-]\d{3}[.-]\d{4}\b"
              r"|\b0\d(?:[ .-]\d{2}){4}\b"
              r"|\b0\d{1,4}[ -]\d{3,4}[ -]?\d{3,5}\b"),
}
#: true (on lower-cased text) for every turn any pattern above could match: a character or word each needs
MAY_HOLD_PII = r"[@:\d_]|k-|akia|xox|aiza|eyj|key|token|secret|passw|bearer|www\."
#: text just before a number that makes it an identifier, not a phone number
ID_CONTEXT = re.compile(r"(?i)(?:order|invoice|ticket|ref(?:erence)?|tracking|case|sku|rma|receipt)\b[^.\n]{0,15}$|[#№]\s*$")
IBAN_PREFIX = re.compile(r"\b[A-Z]{2}\d{2} ?$")
#: a phone candidate glued to letters, '#', '/' or '-' is part of an id or path
GLUED = re.compile(r"[\w#/-]$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


def _redact_iban(m: re.Match[str]) -> str:
    text = m.group(0)
    while len(text.replace(" ", "")) >= 15:  # a greedy match may have swallowed the next word
        if iban_ok(text):
            return "[IBAN]" + m.group(0)[len(text):]
        text = text.rsplit(" ", 1)[0] if " " in text else text[:-1]
    return m.group(0)


def _redact_card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    if IBAN_PREFIX.search(m.string[max(0, m.start() - 6):m.start()]):
        return m.group(0)  # the tail of an IBAN that failed its check, not a card
    return "[CARD]" if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits) else m.group(0)


def _redact_phone(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 30):m.start()]
    digits = sum(ch.isdigit() for ch in m.group(0))
    if not 7 <= digits <= 15 or ID_CONTEXT.search(before) or GLUED.search(before):
        return m.group(0)
    return "[PHONE]"


CHECKS = {"IBAN": _redact_iban, "CARD": _redact_card, "PHONE": _redact_phone}
_COMPILED = {t: re.compile(p) for t, p in CHECKED.items()}


def redact_checked(text: str, types: tuple[str, ...]) -> str:
    """Replace IBANs, cards and phones that pass their checks (one turn, plain Python)."""
    for t in ("IBAN", "CARD", "PHONE"):
        if t in types:
            text = _COMPILED[t].sub(CHECKS[t], text)
    return text


class PiiOptions(Options):
    types: list[PiiType] = Field(default=list(ALL_TYPES), description="PII types to redact")
    roles: list[str] = Field(default=["system", "user", "assistant"], description="Roles whose turns are redacted")


class RedactPii(Cleaner):
    name = "pii"
    row_wise = True
    description = "Replace e-mails, phones, cards (Luhn), IBANs, IPs, URLs and secrets with typed placeholders"
    Options = PiiOptions

    def redact_text(self, text: str) -> str:
        """One text with this cleaner's patterns and checks, in the same order (the feedback log uses it)."""
        types = tuple(t for t in ALL_TYPES if t in self.options.types)
        series = pl.Series([text])
        for kind in types:
            for pattern, replacement in PATTERNS.get(kind, []):
                series = series.str.replace_all(pattern, replacement)
        return redact_checked(series[0], tuple(t for t in types if t in CHECKED))

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        types = tuple(t for t in ALL_TYPES if t in self.options.types)
        ledger = Ledger(self.name)
        turns = explode_turns(table)
        content = turns.get_column("content").fill_null("")
        # only turns that could hold PII go through the patterns (MAY_HOLD_PII is a superset of all of them)
        maybe = turns.get_column("role").is_in(self.options.roles) & content.str.to_lowercase().str.contains(MAY_HOLD_PII)
        at = maybe.arg_true()
        sub = pl.DataFrame({ROW: turns.get_column(ROW).gather(at), "__before": content.gather(at)})
        text = pl.col("__before")
        for t in types:
            for pattern, replacement in PATTERNS.get(t, []):
                text = text.str.replace_all(pattern, replacement)
        sub = sub.with_columns(text.alias("content"))
        checked = [t for t in types if t in CHECKED]
        if checked:
            candidate = pl.any_horizontal([pl.col("content").str.contains(CHECKED[t]) for t in checked])
            sub = sub.with_columns(
                pl.when(candidate).then(pl.col("content").map_elements(
                    lambda s: redact_checked(s, tuple(checked)), return_dtype=pl.Utf8, skip_nulls=True))
                .otherwise(pl.col("content")).alias("content"))
        counts = {t: (pl.col("content").str.count_matches(f"[{t}]", literal=True)
                      - pl.col("__before").str.count_matches(f"[{t}]", literal=True)).sum().alias(t) for t in types}
        by_row = sub.group_by(ROW).agg(**counts) if types else sub.select(ROW).unique()
        counted = per_row(table.height, by_row).fill_null(0)
        mask = counted.select(pl.sum_horizontal(list(types)) > 0).to_series() if types else pl.Series([False] * table.height, dtype=pl.Boolean)
        annotated = pl.concat([table, counted.select(types).rename({t: f"__{t}" for t in types})], how="horizontal")
        detail = json_counts({t: pl.col(f"__{t}") for t in types})
        ledger.extend(ledger_entries(annotated, mask, "changed", "pii redacted", detail))
        turns = turns.with_columns(content.scatter(at, sub.get_column("content")) if len(at) else content)
        out = mark_origin(implode_turns(table, turns.select(ROW, "role", "content", "weight")), mask, self.name)
        stats = {"changed_rows": int(mask.sum()), "redacted_by_type": {t: int(counted[t].sum()) for t in types}}
        return StepResult(out, ledger.frame(), stats=stats)
