"""Dataset statistics for the Data page: token lengths per role, labels, turns.

Computed with polars expressions over the whole table (lazily from parquet),
so they stay quick on large datasets. Token counts use the same
approximation as validation (characters / 4, see :mod:`workbench.io.validate`),
labelled as such in the page.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from workbench.io.validate import CHARS_PER_TOKEN

TOKEN_LABEL = f"approximate tokens ({CHARS_PER_TOKEN} characters per token)"


def _turns(lf: pl.LazyFrame) -> pl.LazyFrame:
    return (lf.select("id", "messages").explode("messages").drop_nulls("messages")
            .select("id", pl.col("messages").struct.field("role").alias("role"),
                    pl.col("messages").struct.field("content").fill_null("").alias("content")))


def token_lengths(lf: pl.LazyFrame) -> pl.DataFrame:
    """One row per turn: role and approximate token count."""
    return _turns(lf).select("role", (pl.col("content").str.len_chars() / CHARS_PER_TOKEN).ceil()
                             .cast(pl.Int64).alias("tokens")).collect()


def histogram(lengths: pl.DataFrame) -> pl.DataFrame:
    """Token-length histogram per role on doubling bins (1, 2, 3-4, 5-8, ...): one row per bin in order,
    labelled ``tokens``, one column per role (chart-ready).

    Turn lengths are skewed (many short turns, a few long ones); equal-width bins put almost every turn
    in the first bar, doubling bins show the shape at every scale.
    """
    if not lengths.height:
        return pl.DataFrame({"tokens": []})
    power = pl.col("tokens").clip(1).log(2).ceil().cast(pl.Int64).alias("bin")
    wide = (lengths.with_columns(power).group_by("bin", "role").len()
            .pivot(on="role", index="bin", values="len").fill_null(0).sort("bin"))
    low = pl.when(pl.col("bin") == 0).then(0).otherwise(2 ** (pl.col("bin") - 1) + 1)
    high = 2 ** pl.col("bin")
    label = pl.when(low == high).then(high.cast(pl.Utf8)).otherwise(pl.format("{}-{}", low, high)).alias("tokens")
    return wide.select(label, pl.exclude("bin"))


def counts(lf: pl.LazyFrame, column: str) -> pl.DataFrame:
    """How many rows have each value of ``column`` (nulls shown as "(none)")."""
    if column not in lf.collect_schema().names():
        return pl.DataFrame({column: [], "rows": []})
    return (lf.group_by(pl.col(column).fill_null("(none)")).len().rename({"len": "rows"})
            .sort("rows", descending=True).collect())


def turns_per_conversation(lf: pl.LazyFrame) -> pl.DataFrame:
    return (lf.select(pl.col("messages").list.len().alias("turns")).group_by("turns").len()
            .rename({"len": "conversations"}).sort("turns").collect())


def summary(lf: pl.LazyFrame) -> dict[str, float]:
    """Headline figures: rows, turns, mean turns, distinct sources and labels."""
    names = lf.collect_schema().names()
    exprs = [pl.len().alias("rows"), pl.col("messages").list.len().sum().alias("turns"),
             pl.col("messages").list.len().mean().round(2).alias("mean_turns")]
    exprs += [pl.col(c).n_unique().alias(f"distinct_{c}") for c in ("source_id", "label") if c in names]
    return lf.select(exprs).collect().row(0, named=True)


def describe(path: str | Path) -> dict[str, object]:
    """Everything the statistics tab shows, from one parquet file."""
    lf = pl.scan_parquet(path)
    lengths = token_lengths(lf)
    return {"summary": summary(lf), "histogram": histogram(lengths), "labels": counts(lf, "label"),
            "splits": counts(lf, "split"), "origins": counts(lf, "origin"), "turns": turns_per_conversation(lf),
            "token_label": TOKEN_LABEL}
