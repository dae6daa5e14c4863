"""Rule-based extraction of the checkable facts of a support answer.

A fact is a ``(kind, value)`` pair with a normalised value, so that two
phrasings of the same fact compare equal ("10,000 euros" = "€10,000" = "ten
thousand euros" -> ``("money", "EUR 10000")``; "3 to 5 business days" =
"3-5 business days" -> ``("duration:business_day", "3-5")``).

Rules run in order over the text and mask what they matched, so a later rule
never sees it again: the digits of an order number (``NW-44688``), a phone
number or a date are not also counted as bare numbers. Structured facts
(emails, URLs, ids, phones, quoted names, menu paths, glossary names, dates,
times) come first, then number words become digits, then amounts, percents,
ranges and numbers with their unit. A zero amount is a fact too: "free of
charge" / "no fee" is ``("money", "0")`` and contradicts "a 5 euro fee".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import NamedTuple


class Fact(NamedTuple):
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.value}"


@dataclass
class Rule:
    """One extractor: a regex, the fact kind (or a function of the match) and the value of a match.

    ``value`` returns the normalised value, or None to ignore the match (it is then not masked either), or
    ``(value, start, end)`` when the fact covers only part of the match (only that part is masked).
    ``emit=False`` masks the match without making a fact (e.g. id-like tokens not taken from the prompt).
    """

    kind: str | Callable[[re.Match], str]
    pattern: str
    value: Callable[[re.Match], str | tuple[str, int, int] | None] | None = None
    flags: int = re.IGNORECASE
    emit: bool = True
    regex: re.Pattern = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(self.pattern, self.flags)

    def facts(self, text: str) -> Iterable[tuple[int, int, Fact | None]]:
        for m in self.regex.finditer(text):
            value = self.value(m) if self.value else _clean(m.groupdict().get("value") or m.group(0))
            start, end = m.start(), m.end()
            if isinstance(value, tuple):  # (value, start, end) when the fact covers part of the match
                value, start, end = value
            if value is None or value == "":
                continue
            kind = self.kind(m) if callable(self.kind) else self.kind
            yield start, end, Fact(kind, value) if self.emit else None


def _clean(text: str) -> str:
    """Case and whitespace folded; surrounding punctuation dropped."""
    return re.sub(r"\s+", " ", text).strip(" .,;:!?\"'“”‘’()[]").lower()


# ---- numbers ---------------------------------------------------------------------------------------------

NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
SMALL = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_WORD = "|".join(sorted([*SMALL, *TENS, "hundred", *SCALES], key=len, reverse=True))
NUMBER_WORDS = re.compile(rf"\b(?:{_NUMBER_WORD})(?:(?:[\s-]+|(?<=hundred)\s+and\s+|(?<=thousand)\s+and\s+)(?:{_NUMBER_WORD}))*\b", re.IGNORECASE)


def number(text: str) -> str:
    """"10,000" -> "10000", "2.10" -> "2.1"."""
    try:
        d = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return text
    return str(int(d)) if d == d.to_integral_value() else format(d.normalize(), "f")


def words_to_number(phrase: str) -> int:
    """"ten thousand" -> 10000, "twenty-four" -> 24, "one hundred and five" -> 105."""
    total = current = 0
    for w in re.split(r"[\s-]+", phrase.lower()):
        if w in SMALL:
            current += SMALL[w]
        elif w in TENS:
            current += TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in SCALES:
            total += max(current, 1) * SCALES[w]
            current = 0
    return total + current


# ---- units -----------------------------------------------------------------------------------------------

CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
CURRENCY_WORDS = {"usd": "USD", "dollar": "USD", "dollars": "USD", "eur": "EUR", "euro": "EUR", "euros": "EUR",
                  "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "chf": "CHF", "franc": "CHF", "francs": "CHF",
                  "jpy": "JPY", "yen": "JPY", "inr": "INR", "rupee": "INR", "rupees": "INR", "cad": "CAD",
                  "aud": "AUD", "sek": "SEK", "nok": "NOK", "dkk": "DKK"}
#: unit word (singular or plural) -> duration unit
DURATIONS = {"second": "second", "sec": "second", "minute": "minute", "min": "minute", "hour": "hour",
             "hr": "hour", "day": "day", "calendar day": "day", "business day": "business_day",
             "working day": "working_day", "banking day": "business_day", "week": "week", "month": "month",
             "year": "year", "yr": "year", "night": "night"}
PERCENT = r"%|\s?percent\b|\s?per\s?cent\b|\s?pct\b"
_CUR_WORD = "|".join(sorted(CURRENCY_WORDS, key=len, reverse=True))
_DURATION = "|".join(sorted((re.escape(u) for u in DURATIONS), key=len, reverse=True))
#: words after a number that are not its unit
NOT_UNITS = set("""a an the and or of to in on at by for from with within per is are was were be been will
would can could may might it its this that these those you your we our they their he she his her as if than
then so but not no yes after before until via each every any all more less over under up down out about
around into onto off also just only still""".split())


def singular(word: str) -> str:
    w = word.lower()
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "xes", "sses")):
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        return w[:-1]
    return w


def _money_value(amount: str, currency: str | None, amount2: str | None = None) -> str:
    value = number(amount) + (f"-{number(amount2)}" if amount2 else "")
    if value == "0":
        return "0"
    return f"{currency} {value}" if currency else value


def _currency(sign_or_word: str | None) -> str | None:
    if not sign_or_word:
        return None
    s = sign_or_word.strip().lower()
    return CURRENCY_SIGNS.get(s) or CURRENCY_WORDS.get(s) or s.upper()


def _unit_kind(unit: str | None) -> str:
    """Kind of a number by the word after it: a duration, or ``number:<word>``, or plain ``number``."""
    if not unit:
        return "number"
    u = re.sub(r"\s+", " ", unit.lower())
    base = u[:-1] if u.endswith("s") and u[:-1] in DURATIONS else u
    if base in DURATIONS:
        return f"duration:{DURATIONS[base]}"
    if u in NOT_UNITS or not u.isalpha():
        return "number"
    return f"number:{singular(u)}"


# ---- dates and times ----------------------------------------------------------------------------------------

MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
MONTHS |= {m[:3]: i for m, i in list(MONTHS.items())} | {"sept": 9}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
ORDINAL_WORDS = {w: i + 3 for i, w in enumerate(
    "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split())}


def _date(m: re.Match) -> str | None:
    g = m.groupdict()
    month = MONTHS.get((g.get("month") or "").lower().rstrip("."))
    if g.get("mnum"):
        month = int(g["mnum"])
    day = int(g["day"]) if g.get("day") else None
    if not month or not (1 <= month <= 12) or (day is not None and not 1 <= day <= 31):
        return None
    parts = ([g["year"]] if g.get("year") else []) + [f"{month:02d}"] + ([f"{day:02d}"] if day else [])
    return "-".join(parts)


def _time(m: re.Match) -> str | None:
    hour, minute = int(m.group("h")), int(m.group("m") or 0)
    ampm = (m.group("ampm") or "").replace(".", "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


# ---- menu paths --------------------------------------------------------------------------------------------

PATH_SEPARATOR = r"\s*(?:>|→|›|»|->|=>)\s*"
#: words that end a path segment ("... > Return an item to print a label": the segment is "Return an item")
SEGMENT_STOP = set("""to and then or so where which that if when once you your tap click select choose press go
open for with by on in at from is are will can should now here there again today please next also instead
""".split())
#: capitalised sentence-initial verbs before a path ("Open Settings > Limits")
PATH_LEAD = SEGMENT_STOP | {"head", "navigate", "visit", "find", "use", "start", "see", "check", "under", "then"}


def _path(m: re.Match) -> tuple[str, int, int] | None:
    """"settings > limits" and where the path starts and ends (the regex may reach past it on both sides)."""
    text, base = m.group(0), m.start()
    separators = list(re.finditer(PATH_SEPARATOR, text))
    # the first segment: the capitalised words right before the first separator
    head: list[re.Match] = []
    for w in reversed(list(re.finditer(r"\S+", text[: separators[0].start()]))):
        if not (w.group(0)[:1].isupper() or w.group(0)[:1].isdigit() or w.group(0) == "&") or len(head) == 4:
            break
        head.insert(0, w)
    while head and head[0].group(0).lower() in PATH_LEAD:  # "Open Cards > Freeze": "Open" is the verb, not the menu
        head.pop(0)
    if not head:
        return None
    segments, stop = [" ".join(w.group(0) for w in head)], separators[0].start()
    for k, sep in enumerate(separators):
        part_end = separators[k + 1].start() if k + 1 < len(separators) else len(text)
        words: list[str] = []
        for w in re.finditer(r"\S+", text[sep.end():part_end]):
            bare = w.group(0).strip(".,;:!?\"'“”()")
            if not bare or (words and bare.lower() in SEGMENT_STOP) or len(words) == 4:
                break
            words.append(bare)
            stop = sep.end() + w.start() + w.group(0).index(bare) + len(bare)
            if bare != w.group(0).rstrip("\"'“”)"):  # punctuation ends the segment
                break
        segments.append(" ".join(words))
        if text[stop:part_end].strip():
            break  # more words before the next separator: the path ends with this segment
    if len(segments) < 2 or not all(segments):
        return None
    return " > ".join(_clean(s) for s in segments), base + head[0].start(), base + stop


# ---- id-like tokens -------------------------------------------------------------------------------------------

ID_TOKEN = r"#\d{3,}|\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]+(?:-[A-Z0-9]+)+\b|" \
           r"\b(?=[A-Z]*\d)(?=\d*[A-Z])[A-Z0-9]{5,}\b"


def id_shape(token: str) -> str:
    """Letters kept, digits generalised: NW-44688 -> NW-99999 (an answer's order number has the prompt's shape)."""
    return re.sub(r"\d", "9", token.upper())


def id_tokens(text: str) -> list[str]:
    return [m.group(0) for m in re.finditer(ID_TOKEN, text)]


# ---- the extractor --------------------------------------------------------------------------------------------

FREE = (r"\bfree of (?:any )?charges?\b|\bno (?:extra |additional |hidden |cancellation |return |shipping )?"
        r"(?:fees?|charges?|costs?)\b|\bat no (?:extra |additional )?(?:cost|charge)\b|\bfor free\b|"
        r"\bwithout (?:any )?(?:fees?|charges?)\b|\bfee-free\b|(?<!feel )(?<!-)\bfree\b(?! of\b)")


def structure_rules(prompt_ids: set[str], glossary: Iterable[str]) -> list[Rule]:
    """Rules for facts that are not plain numbers; run before number words are turned into digits."""
    shapes = {id_shape(t) for t in prompt_ids}
    rules = [
        Rule("email", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
        Rule("url", r"\b(?:https?://|www\.)[^\s<>\"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|eu|uk|de|fr"
                    r"|app|dev|help|support|bank)(?:/[^\s<>\"']*)?\b",
             lambda m: re.sub(r"^(?:https?://)?(?:www\.)?", "", m.group(0).lower()).rstrip("/.,;:!?)")),
        Rule("id", ID_TOKEN, lambda m: m.group(0).upper() if id_shape(m.group(0)) in shapes else None, re.UNICODE),
        Rule("id-like", ID_TOKEN, emit=False, flags=re.UNICODE),  # masked: its digits are no number
        # list markers ("1. Open Settings", "Step 2:") number the answer's own steps: no fact
        Rule("list-marker", r"^[ \t]*(?:[-*•][ \t]*)?\d{1,2}[.)](?=\s)|\bstep \d{1,2}\b", emit=False,
             flags=re.IGNORECASE | re.MULTILINE),
        Rule("date", r"\b(?P<year>\d{4})-(?P<mnum>\d{1,2})-(?P<day>\d{1,2})\b", _date),
        Rule("phone", r"(?<![\w-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?![\w-])",
             lambda m: (("+" if m.group(0).startswith("+") else "") + re.sub(r"\D", "", m.group(0)))
             if len(re.sub(r"\D", "", m.group(0))) >= 7 else None),
        Rule("quoted", r"[\"“](?P<value>[^\"“”\n]{1,60})[\"”]|(?<!\w)'(?P<value2>[^'\n]{1,40})'(?!\w)",
             lambda m: _clean(m.group("value") or m.group("value2"))),
        Rule("path", rf"(?:[A-Z0-9&][\w&'-]*\s+){{0,3}}[A-Z0-9&][\w&'-]*(?:{PATH_SEPARATOR}[^\s>→›»]+"
                     rf"(?:\s+(?![^\s]*(?:>|→|›|»))[^\s>→›»]+){{0,4}})+", _path, flags=re.UNICODE),
    ]
    terms = sorted((t for t in glossary if t.strip()), key=len, reverse=True)
    if terms:
        canon = {t.lower(): t for t in terms}
        rules.append(Rule("glossary", r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)",
                          lambda m: canon[m.group(0).lower()]))
    rules += [
        Rule("date", rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH}(?:,?\s+(?P<year>\d{{4}}))?\b", _date),
        Rule("date", rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>\d{{4}}))?", _date),
        Rule("date", r"\b(?:january|february|march|april|june|july|august|september|october|november|december)"
                     r"(?:\s+(?P<year>\d{4}))?\b", lambda m: _date_month_only(m)),
        # day and month order of "31/12/2024" is not guessed: the value keeps the written order
        Rule("date", r"\b(\d{1,2})([/.])(\d{1,2})\2(\d{4}|\d{2})\b",
             lambda m: f"{int(m.group(1)):02d}/{int(m.group(3)):02d}/{m.group(4)}"),
        Rule("number", r"\b\d+/\d+\b", lambda m: m.group(0)),  # "24/7", "1/2"
        Rule("weekday", r"\b(?:" + "|".join(WEEKDAYS) + r")s?\b", lambda m: m.group(0).lower().rstrip("s")
             if m.group(0).lower() not in WEEKDAYS else m.group(0).lower()),
        Rule("time", r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)(?!\w)", _time),
        Rule("time", r"\b(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)\b(?P<ampm>)", _time),
        Rule("time", r"\b(?:noon|midday|midnight)\b", lambda m: "00:00" if m.group(0).lower() == "midnight" else "12:00"),
    ]
    return rules


def _date_month_only(m: re.Match) -> str:
    month = MONTHS[m.group(0).split()[0].lower()]
    return f"{m.group('year')}-{month:02d}" if m.group("year") else f"{month:02d}"


#: the unit after a number; a hyphenated adjective is skipped ("4 interest-free instalments": instalment)
_UNIT = rf"(?:[a-z]+-[a-z]+\s+(?=[a-z]))?(?P<unit>(?:{_DURATION})s?\b|[a-z]+)"

#: the money, percent and number rules (after number words became digits)
NUMBER_RULES = [
    Rule("money", FREE, lambda m: "0"),
    Rule("money", rf"(?P<cur>[$€£¥₹]|\b(?:US\$|USD|EUR|GBP|CHF|CAD|AUD)\s?)(?P<a>{NUMBER})"
                  rf"(?:\s*(?:-|to)\s*(?:[$€£¥₹]|(?:USD|EUR|GBP|CHF|CAD|AUD)\s?)?(?P<b>{NUMBER}))?(?!\d)",
         lambda m: _money_value(m.group("a"), _currency(m.group("cur").replace("US$", "$")), m.group("b"))),
    Rule("money", rf"(?<![\d.,])(?P<a>{NUMBER})(?:\s*(?:-|to)\s*(?P<b>{NUMBER}))?\s?(?P<cur>{_CUR_WORD}|€)(?!\w)",
         lambda m: _money_value(m.group("a"), _currency(m.group("cur")), m.group("b"))),
    Rule("percent", rf"(?<![\d.,])(?P<a>{NUMBER})(?:\s*(?:-|to)\s*(?P<b>{NUMBER}))?(?:{PERCENT})",
         lambda m: number(m.group("a")) + (f"-{number(m.group('b'))}" if m.group("b") else "")),
    Rule("ordinal", r"\b(?P<n>\d+)(?:st|nd|rd|th)\b", lambda m: str(int(m.group("n")))),
    Rule("ordinal", r"\b(?:" + "|".join(ORDINAL_WORDS) + r")\b", lambda m: str(ORDINAL_WORDS[m.group(0).lower()])),
    # ranges: "3 to 5 business days", "3-5 business days", "between 3 and 5 business days"
    Rule(lambda m: _unit_kind(m.group("unit")),
         rf"(?:\bbetween\s+(?P<a1>{NUMBER})\s+and\s+|(?<![\d.,])(?:from\s+)?(?P<a2>{NUMBER})\s*(?:-|to)\s*)(?P<b>{NUMBER})"
         rf"(?:[\s-]+{_UNIT})?",
         lambda m: f"{number(m.group('a1') or m.group('a2'))}-{number(m.group('b'))}"),
    Rule(lambda m: _unit_kind(m.group("unit")), rf"(?<![\d.,])(?P<a>{NUMBER})(?:[\s-]*{_UNIT})?",
         lambda m: number(m.group("a"))),
]

#: units after "one" that make it a number ("one hour", "one business day"), not a pronoun ("the one you ordered")
_ONE_UNIT = re.compile(rf"\s*(?:{_DURATION}|{_CUR_WORD}|percent)", re.IGNORECASE)


def number_words_to_digits(text: str) -> tuple[str, list[tuple[int, int, int, int]]]:
    """"ten thousand euros" -> "10000 euros"; a lone "one" only before a unit (else it is a pronoun).

    Also returns the replacements as (new start, new end, old start, old end), to map positions back.
    """
    pieces, replaced, at, shift = [], [], 0, 0
    for m in NUMBER_WORDS.finditer(text):
        phrase = m.group(0)
        if phrase.lower() == "one" and not _ONE_UNIT.match(text, m.end()):
            continue
        digits = str(words_to_number(phrase))
        pieces += [text[at:m.start()], digits]
        replaced.append((m.start() + shift, m.start() + shift + len(digits), m.start(), m.end()))
        shift += len(digits) - len(phrase)
        at = m.end()
    return "".join(pieces) + text[at:], replaced


def original_position(pos: int, replaced: list[tuple[int, int, int, int]], end: bool = False) -> int:
    """Where a position of the text with digits lies in the text before number words were replaced."""
    shift = 0
    for new_start, new_end, old_start, old_end in replaced:
        if pos < new_start or (end and pos == new_start):
            break
        if pos < new_end or (end and pos == new_end):
            return old_end if end else old_start
        shift = old_end - new_end
    return pos + shift


def normalise_text(text: str) -> str:
    """Dashes, quotes and spaces folded; the length is kept, so positions point into the original text."""
    return (text.replace("\u00a0", " ").replace("–", "-").replace("—", "-").replace("‑", "-")
            .replace("’", "'").replace("‘", "'"))


class FactExtractor:
    """Facts of a text. ``extra_rules`` run first (they win over built-in rules on the same words)."""

    def __init__(self, extra_rules: Iterable[Rule] = (), glossary: Iterable[str] = ()) -> None:
        self.extra_rules = list(extra_rules)
        self.glossary = list(glossary)

    def extract(self, text: str | None, prompt: str = "") -> list[Fact]:
        """Distinct facts of ``text`` in order of appearance; ids count when shaped like an id of ``prompt``."""
        return [fact for fact, _ in self.extract_with_text(text, prompt)]

    def extract_with_text(self, text: str | None, prompt: str = "") -> list[tuple[Fact, str]]:
        """Distinct facts with the words that first state them in ``text`` (what a report marks)."""
        original = text or ""
        found: list[tuple[int, int, Fact]] = []
        masked = self._apply([*self.extra_rules, *structure_rules(set(id_tokens(prompt)), self.glossary)],
                             normalise_text(original), found)
        digits, replaced = number_words_to_digits(masked)
        later: list[tuple[int, int, Fact]] = []
        self._apply(NUMBER_RULES, digits, later)
        found += [(original_position(s, replaced), original_position(e, replaced, end=True), f) for s, e, f in later]
        out: dict[Fact, str] = {}
        for start, end, fact in sorted(found, key=lambda t: t[0]):
            out.setdefault(fact, original[start:end].strip())
        return list(out.items())

    @staticmethod
    def _apply(rules: list[Rule], text: str, found: list[tuple[int, int, Fact]]) -> str:
        for rule in rules:
            spans = []
            for start, end, fact in rule.facts(text):
                spans.append((start, end))
                if fact is not None:
                    found.append((start, end, fact))
            for start, end in spans:
                text = text[:start] + " " * (end - start) + text[end:]
        return text


def pattern_rules(patterns: dict[str, list[str]]) -> list[Rule]:
    """User patterns (kind -> regexes; a named group ``value`` picks the value, else the whole match)."""
    rules = []
    for kind, regexes in patterns.items():
        for regex in regexes:
            try:
                rules.append(Rule(kind, regex))
            except re.error as e:
                from workbench.errors import WorkbenchError

                raise WorkbenchError(f"facts option patterns[{kind!r}]: invalid regex {regex!r}: {e}",
                                     hint="patterns map a fact kind to Python regexes; (?P<value>...) picks the value") from e
    return rules
