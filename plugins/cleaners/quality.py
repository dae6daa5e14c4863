"""Quality filters: missing, empty or short answers, boilerplate refusals,
length outliers by token count (per role), repeated-phrase spam, language.

Every check is a polars expression over the flat turns frame; a row failing
several checks is dropped once, under the first reason in ``CHECK_ORDER``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl
from pydantic import Field

from workbench.components import Cleaner, Options
from workbench.context import StepContext
from workbench.ledger import Ledger, StepResult

from .turns import ROW, TURN, explode_turns, ledger_entries, per_row

if TYPE_CHECKING:
    import numpy as np

DEFAULT_REFUSALS = [
    r"\bas an ai (?:language )?model\b",
    r"\bas an ai(?: assistant)?,? i (?:cannot|can't|can not|am unable|don't have)",
    r"\bi(?:'m| am) (?:sorry|afraid),? but i (?:cannot|can't|am unable to) (?:help|assist|provide|do) (?:with )?(?:that|this)\b",
    r"\bi (?:cannot|can't) (?:help|assist) with (?:that|this) request\b",
]
CHECK_ORDER = ("no answer", "empty answer", "short answer", "refusal", "repeated phrase", "length outlier", "language")


class QualityOptions(Options):
    min_answer_chars: int = Field(default=3, ge=0, description="Drop rows with an assistant turn shorter than this (after trimming); 0 keeps empty answers")
    require_answer: bool = Field(default=True, description="Drop rows without any assistant turn")
    refusal_patterns: list[str] = Field(default=DEFAULT_REFUSALS, description="Case-insensitive regexes of boilerplate refusals in answers (empty list: off)")
    outliers: Literal["iqr", "zscore", "off"] = Field(default="iqr", description="How to find length outliers among turns of the same role (token counts)")
    outlier_factor: float = Field(default=3.0, gt=0, description="IQR multiple beyond the quartiles, or z-score, that makes an outlier")
    outlier_tails: Literal["long", "both"] = Field(default="long", description="Outliers are only turns too long (short answers have min_answer_chars), or too short as well")
    max_phrase_repeats: int = Field(default=4, ge=2, description="Drop answers in which one 3-word phrase occurs this many times or more")
    spam_min_words: int = Field(default=12, ge=3, description="Only answers with at least this many words are checked for repeated phrases")
    language: str | None = Field(default=None, description="Keep only rows in this language (ISO 639-1, e.g. 'en'; uses langdetect; slow)")


class QualityFilter(Cleaner):
    name = "quality"
    description = "Drop rows with missing, empty, short or refusal answers, length outliers, repeated-phrase spam"
    Options = QualityOptions

    def needs_first_pass(self) -> bool:
        """Length outliers need the token counts of the whole input before any batch is judged."""
        return self.options.outliers != "off"

    def observe(self, table: pl.DataFrame) -> None:
        """First pass of a batch-wise run: add this batch's token counts."""
        self._stats = getattr(self, "_stats", None) or LengthStats()
        self._stats.observe(_tokens(explode_turns(table)))

    def freeze(self) -> None:
        """End of the first pass: later ``run`` calls use the bounds of everything observed."""
        stats = getattr(self, "_stats", None) or LengthStats()
        self._bounds = stats.bounds(self.options.outliers, self.options.outlier_factor, self.options.outlier_tails)

    def run_partitioned(self, parts, ctx: StepContext) -> StepResult:
        """On Ray Data partitions: length histograms per partition, added up, then the filter on every partition."""
        from .partitioned import quality

        return quality(self, parts)

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        o = self.options
        turns = _tokens(explode_turns(table)).with_columns(pl.col("content").fill_null("").str.strip_chars().alias("__text"))
        bounds = getattr(self, "_bounds", None)
        if bounds is None:  # in memory: the bounds of this table
            stats = LengthStats()
            stats.observe(turns)
            bounds = stats.bounds(o.outliers, o.outlier_factor, o.outlier_tails)
        answer = pl.col("role") == "assistant"
        turn_flags = [
            (answer & (pl.col("__text").str.len_chars() == 0)).alias("empty answer"),
            (answer & (pl.col("__text").str.len_chars() < o.min_answer_chars)).alias("short answer"),
            (answer & _refusal(o.refusal_patterns)).alias("refusal"),
            _outliers(bounds).alias("length outlier"),
        ]
        turns = turns.with_columns(turn_flags).with_columns(
            (answer & pl.col(ROW).is_in(_spam_rows(turns.filter(answer), o).implode())).alias("repeated phrase"))
        by_row = turns.group_by(ROW).agg(
            (~answer).all().alias("no answer"),
            *[pl.col(c).any() for c in ("empty answer", "short answer", "refusal", "length outlier", "repeated phrase")],
            pl.col("__tokens").max().alias("__max_tokens"),
            pl.col("role").filter(pl.col("length outlier")).first().alias("__outlier_role"),
            pl.col("__tokens").filter(pl.col("length outlier")).first().alias("__outlier_tokens"))
        flags = (per_row(table.height, by_row)
                 .with_columns(pl.col("no answer").fill_null(True)).fill_null(False))
        if not o.require_answer:
            flags = flags.with_columns(pl.lit(False).alias("no answer"))
        if o.min_answer_chars == 0:
            flags = flags.with_columns(pl.lit(False).alias("empty answer"))
        flags = flags.with_columns(_language_flag(table, o.language).alias("language"))
        reason = pl.coalesce([pl.when(pl.col(c)).then(pl.lit(c)) for c in CHECK_ORDER])
        annotated = pl.concat([table, flags.select(*CHECK_ORDER, "__max_tokens", "__outlier_role", "__outlier_tokens")],
                              how="horizontal")
        annotated = annotated.with_columns(reason.alias("__reason"))
        mask = annotated.get_column("__reason").is_not_null()
        detail = pl.when(pl.col("__reason") == "length outlier").then(_outlier_detail(bounds)).otherwise(
            pl.format('{{"max_tokens":{}}}', pl.col("__max_tokens").fill_null(0)))
        ledger = Ledger(self.name)
        ledger.extend(ledger_entries(annotated, mask, "dropped", pl.col("__reason"), detail))
        stats = {"dropped": int(mask.sum()),
                 "dropped_by_reason": {k: int(v) for k, v in annotated.filter(mask).group_by("__reason").len().iter_rows()}}
        return StepResult(table.filter(~mask), ledger.frame(), stats=stats)


def _tokens(turns: pl.DataFrame) -> pl.DataFrame:
    return turns.with_columns(pl.col("content").fill_null("").str.count_matches(r"\S+").alias("__tokens"))


def _refusal(patterns: list[str]) -> pl.Expr:
    if not patterns:
        return pl.lit(False)
    return pl.col("__text").str.to_lowercase().str.contains("|".join(f"(?:{p})" for p in patterns))


class LengthStats:
    """Histograms of token counts per role: exact quartiles, mean and deviation over any number of batches."""

    def __init__(self) -> None:
        self.hist: dict[str, np.ndarray] = {}

    def observe(self, turns: pl.DataFrame) -> None:
        """Add the ``role``/``__tokens`` turns of a table or batch."""
        import numpy as np

        batch = LengthStats()
        batch.hist = {role: np.bincount(np.asarray(tokens, dtype=np.int64))
                      for role, tokens in turns.group_by("role").agg(pl.col("__tokens")).iter_rows()}
        self.merge(batch)

    def merge(self, other: LengthStats) -> None:
        """Add another batch's or partition's histograms to these."""
        import numpy as np

        for role, counts in other.hist.items():
            old = self.hist.get(role, np.zeros(0, dtype=np.int64))
            size = max(len(old), len(counts))
            self.hist[role] = np.pad(old, (0, size - len(old))) + np.pad(counts, (0, size - len(counts)))

    def bounds(self, method: str, k: float, tails: str = "both") -> dict[str, tuple[float, float]]:
        """Role -> (low, high) token counts outside which a turn is an outlier (roles without spread: none).

        ``tails="long"``: no lower bound (low is 0), only long turns are outliers.

        Quartiles as polars' ``quantile(q)`` ("nearest": the value at
        ``floor((n - 1) q + 0.5)``), the z-score with the sample deviation.
        """
        import numpy as np

        out = {}
        for role, hist in self.hist.items():
            n = int(hist.sum())
            values = np.arange(len(hist), dtype=np.float64)
            if method == "iqr":
                cum = np.cumsum(hist)
                q1, q3 = (float(np.searchsorted(cum, int(np.floor((n - 1) * q + 0.5)), side="right")) for q in (0.25, 0.75))
                spread = q3 - q1
                if spread > 0:
                    out[role] = (q1 - k * spread, q3 + k * spread)
            elif method == "zscore" and n > 1:
                mean = float((hist * values).sum() / n)
                std = float(np.sqrt((hist * (values - mean) ** 2).sum() / (n - 1)))
                if std > 0:
                    out[role] = (mean - k * std, mean + k * std)
        if tails == "long":
            out = {role: (0.0, high) for role, (_, high) in out.items()}
        return out


def _outlier_detail(bounds: dict[str, tuple[float, float]]) -> pl.Expr:
    """Which turn was out of bounds and what the bounds were, so a user can judge the drop."""
    allowed = {role: f"[{low:g}, {high:g}]" for role, (low, high) in bounds.items()}
    return pl.format('{{"role":"{}","tokens":{},"allowed_tokens":{}}}', pl.col("__outlier_role"),
                     pl.col("__outlier_tokens"),
                     pl.col("__outlier_role").replace_strict(allowed, default="null", return_dtype=pl.String))


def _outliers(bounds: dict[str, tuple[float, float]]) -> pl.Expr:
    """Token count outside its role's bounds."""
    if not bounds:
        return pl.lit(False)
    tokens = pl.col("__tokens").cast(pl.Float64)
    low = pl.col("role").replace_strict({r: b[0] for r, b in bounds.items()}, default=None, return_dtype=pl.Float64)
    high = pl.col("role").replace_strict({r: b[1] for r, b in bounds.items()}, default=None, return_dtype=pl.Float64)
    return ((tokens < low) | (tokens > high)).fill_null(False)


def _spam_rows(answers: pl.DataFrame, o: QualityOptions) -> pl.Series:
    """Rows with an answer repeating one 3-word phrase ``max_phrase_repeats`` times or more."""
    words = pl.col("__text").str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars().str.split(" ")
    long = answers.filter(pl.col("__tokens") >= o.spam_min_words).select(ROW, TURN, words.alias("w"))
    suspects = long.filter(pl.col("w").list.n_unique() < 0.6 * pl.col("w").list.len())  # cheap: spam reuses its words
    if suspects.height == 0:
        return pl.Series(ROW, [], dtype=pl.UInt32)
    grams = (suspects.with_row_index("__answer").explode("w")
             .with_columns(pl.concat_str([pl.col("w"), pl.col("w").shift(-1), pl.col("w").shift(-2)], separator=" ").alias("g"),
                           (pl.col("__answer").shift(-2) == pl.col("__answer")).alias("__whole"))
             .filter(pl.col("__whole")))
    counts = grams.group_by(ROW, TURN, "g").len()
    return counts.filter(pl.col("len") >= o.max_phrase_repeats).get_column(ROW).unique()


def _language_flag(table: pl.DataFrame, language: str | None) -> pl.Series:
    """True for rows whose text is not in ``language`` (langdetect, seeded for determinism)."""
    if not language:
        return pl.Series("language", [False] * table.height, dtype=pl.Boolean)
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0

    def other(text: str) -> bool:
        try:
            return bool(text.strip()) and detect(text) != language
        except LangDetectException:
            return False

    text = table.select(pl.col("messages").list.eval(pl.element().struct.field("content").fill_null("")).list.join("\n"))
    return text.to_series().map_elements(other, return_dtype=pl.Boolean).fill_null(False).alias("language")
