"""Exact, near-duplicate (MinHash LSH) and semantic (MiniLM) deduplication.

Each keeps the first row of a group (table order) and drops the others with
the id of the row they duplicate. When a chain runs batch-wise over a file
larger than memory, ``start_batches()`` makes a cleaner remember what it kept
(64-bit hashes, or MinHash signatures and band keys) so duplicates are found
across batches too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl
from pydantic import Field, model_validator

from workbench.components import Cleaner, Options
from workbench.context import StepContext
from workbench.errors import WorkbenchError
from workbench.ledger import Ledger, StepResult

from .turns import ledger_entries

if TYPE_CHECKING:
    import numpy as np

    from . import minhash

DedupOn = Literal["conversation", "user", "assistant", "column"]


class DedupTextOptions(Options):
    on: DedupOn = Field(default="conversation", description="Compare whole conversations, user turns only, assistant turns only, or one column")
    column: str | None = Field(default=None, description="Column to compare when on = 'column'")

    @model_validator(mode="after")
    def _column_given(self) -> DedupTextOptions:
        if self.on == "column" and not self.column:
            raise ValueError("on = 'column' needs column = '<name>'")
        return self


def compared_text(table: pl.DataFrame, on: str, column: str | None) -> pl.Series:
    """The text a dedup cleaner compares for each row."""
    if on == "column":
        if column not in table.columns:
            raise WorkbenchError(f"dedup column {column!r} is not in the table", hint=f"columns: {', '.join(table.columns)}")
        return table.get_column(column).cast(pl.Utf8).fill_null("")
    turn = pl.element()
    tagged = turn.struct.field("role") + pl.lit(": ") + turn.struct.field("content").fill_null("")
    picked = tagged if on == "conversation" else turn.filter(turn.struct.field("role") == on).struct.field("content").fill_null("")
    return table.select(pl.col("messages").list.eval(picked).list.join("\n").fill_null("")).to_series()


def normalised(text: pl.Series) -> pl.Series:
    """Lower case, punctuation and spacing ignored: what 'exact' means here."""
    return text.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}\[\]]+", " ").str.strip_chars()


class ExactDedupOptions(DedupTextOptions):
    pass


class ExactDedup(Cleaner):
    name = "exact-dedup"
    description = "Drop rows whose normalised text equals an earlier row's"
    Options = ExactDedupOptions

    def start_batches(self) -> None:
        """Remember kept hashes so later batches are deduplicated against earlier ones."""
        self.memory = pl.DataFrame(schema={"__h": pl.UInt64, "__first": pl.Utf8})

    def hashes(self, table: pl.DataFrame) -> pl.Series:
        """64-bit hash of each row's normalised compared text: equal hashes are exact duplicates."""
        o = self.options
        return normalised(compared_text(table, o.on, o.column)).hash(seed=11).alias("__h")

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        hashed = table.with_columns(self.hashes(table))
        hashed = hashed.with_columns(pl.col("id").first().over("__h").alias("__first"))
        memory = getattr(self, "memory", None)
        if memory is not None:
            # only the remembered rows this batch repeats are joined: a join against the whole memory built a
            # hash table of every kept row per batch (86 MB of peak at 3M remembered rows)
            seen = memory.filter(pl.col("__h").is_in(hashed["__h"].implode()))
            hashed = hashed.join(seen.rename({"__first": "__seen"}), on="__h", how="left", maintain_order="left")
            hashed = hashed.with_columns(pl.coalesce("__seen", "__first").alias("__first"))
        result = self.drop_duplicates(hashed.select(*table.columns, "__first"))
        if memory is not None:
            kept = hashed.filter(pl.col("id").is_in(result.table["id"].implode()))
            self.memory = pl.concat([memory, kept.select("__h", pl.col("id").alias("__first"))])
        return result

    def run_partitioned(self, parts, ctx: StepContext) -> StepResult:
        """On Ray Data partitions: a group-by on the hash keeping the first row in source order."""
        from .partitioned import exact_dedup

        return exact_dedup(self, parts)

    def drop_duplicates(self, table: pl.DataFrame) -> StepResult:
        """Drop the rows whose ``__first`` (the id of the first row with their text) is another row's id."""
        mask = table.select((pl.col("__first") != pl.col("id")).fill_null(False)).to_series()
        ledger = Ledger(self.name)
        detail = pl.format('{{"duplicate_of":{}}}', pl.col("__first").map_batches(_json_strings, return_dtype=pl.Utf8))
        ledger.extend(ledger_entries(table, mask, "dropped", "exact duplicate", detail))
        kept = table.filter(~mask).drop("__first")
        return StepResult(kept, ledger.frame(), stats={"dropped": int(mask.sum())})


def _json_strings(s: pl.Series) -> pl.Series:
    """Quote strings as JSON (vectorised through polars' JSON encoder)."""
    return pl.DataFrame({"v": s}).select(pl.struct("v").struct.json_encode().str.slice(5).str.head(-1)).to_series()


class NearDedupOptions(DedupTextOptions):
    # user turns by default: a shared system prompt and boilerplate answers would make most
    # conversations look alike (on the sample data "conversation" drops 66% of the rows, "user" 5%)
    on: DedupOn = Field(default="user", description="Compare user turns only (default: a shared system prompt and "
                        "boilerplate answers make whole conversations look alike), whole conversations, assistant "
                        "turns only, or one column")
    threshold: float = Field(default=0.7, gt=0, le=1, description="Jaccard similarity of word shingles at or above which rows are near duplicates")
    shingle_size: int = Field(default=3, ge=1, le=10, description="Words per shingle")
    num_perm: int = Field(default=128, ge=16, le=1024, description="MinHash bins (a power of two); more is slower and more exact")
    bands: int | None = Field(default=None, description="LSH bands (default: chosen from threshold and num_perm to favour recall)")
    exact_check: bool = Field(default=True, description="Decide candidate pairs whose MinHash estimate is within 0.15 of the threshold by the exact Jaccard of their shingles (else the estimate decides all)")

    @model_validator(mode="after")
    def _power_of_two(self) -> NearDedupOptions:
        if self.num_perm & (self.num_perm - 1):
            raise ValueError(f"num_perm must be a power of two, got {self.num_perm}")
        if self.bands is not None and not 1 <= self.bands <= self.num_perm:
            raise ValueError(f"bands must be between 1 and num_perm ({self.num_perm})")
        return self


class NearDedup(Cleaner):
    name = "near-dedup"
    description = "Drop near duplicates found with MinHash LSH, keeping one row per cluster"
    Options = NearDedupOptions

    def start_batches(self, budget_bytes: int = 1 << 30, spill_dir: str | None = None) -> None:
        """Remember kept rows across batches; past ``budget_bytes`` that memory moves to files in ``spill_dir``."""
        from . import minhash  # numpy: imported when used

        self.memory = minhash.NearDupMemory.empty(self.options.num_perm, budget_bytes, spill_dir)

    def layout(self) -> tuple[int, int]:
        o = self.options
        if o.bands:
            return o.bands, o.num_perm // o.bands
        from . import minhash

        return minhash.band_layout(o.threshold, o.num_perm)

    def find(self, table: pl.DataFrame, memory: minhash.NearDupMemory | None = None) -> minhash.Found:
        """Per row: representative row (-1 if it is a remembered row), memory index (-1 if none),
        similarity to the representative, signatures and band keys; and the verified pairs."""
        from . import minhash

        o = self.options
        n = table.height
        sh, sigs = minhash.blocked_signatures(compared_text(table, o.on, o.column), o.shingle_size, o.num_perm)
        bands, rows = self.layout()
        keys = minhash.band_keys(sigs, bands, rows)
        live = sigs[:, 0] != minhash.EMPTY
        pairs = minhash.candidate_pairs(keys, live)
        # the estimate decides clear cases; the exact Jaccard decides pairs within 0.15 of the threshold
        pairs, sim = minhash.verify(sh, sigs, pairs, o.threshold, 0.15 if o.exact_check else None)
        margin = 0.15 if o.exact_check else None
        outside = memory.matches(keys, sigs, live, o.threshold, sh, margin) if memory is not None else None
        rep, mem, to_rep = minhash.greedy_representatives(n, pairs, sim, outside)
        return minhash.Found(rep, mem, to_rep, sigs, keys, pairs, sh)

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        if table.height == 0:
            return StepResult(table, Ledger(self.name).frame(), stats={"dropped": 0})
        import numpy as np

        from . import minhash

        memory: minhash.NearDupMemory | None = getattr(self, "memory", None)
        rep, mem, to_rep, sigs, keys, _, sh = self.find(table, memory)
        ids = table.get_column("id")
        remembered = mem >= 0
        dup_of = ids.gather(np.where(remembered, 0, rep))
        if memory is not None and remembered.any():  # only a memory remembers rows of earlier batches
            dup_of = dup_of.scatter(np.flatnonzero(remembered), memory.ids.gather(mem[remembered]))
        drop = rep != np.arange(table.height)
        if memory is not None:
            keep = ~drop
            memory.add(ids.filter(pl.Series(keep)), sigs[keep], keys[keep], minhash.shingle_sets(sh, keep))
        return self.drop_duplicates(table, drop, dup_of, to_rep)

    def run_partitioned(self, parts, ctx: StepContext) -> StepResult:
        """On Ray Data partitions: signatures per partition, a band join, verification, representatives in source order."""
        from .partitioned import near_dedup

        return near_dedup(self, parts)

    def drop_duplicates(self, table: pl.DataFrame, drop: np.ndarray, dup_of: pl.Series, to_rep: np.ndarray) -> StepResult:
        """Drop the rows under ``drop``; each one's ledger entry names its representative and similarity."""
        import numpy as np

        ledger = Ledger(self.name)
        annotated = table.with_columns(dup_of.cast(pl.Utf8).alias("__rep"), pl.Series("__j", np.round(to_rep, 3)))
        detail = pl.format('{{"cluster":{},"similarity":{}}}',
                           pl.col("__rep").map_batches(_json_strings, return_dtype=pl.Utf8), pl.col("__j"))
        ledger.extend(ledger_entries(annotated, pl.Series(drop), "dropped", "near duplicate", detail))
        bands, rows = self.layout()
        stats = {"dropped": int(drop.sum()), "clusters_with_duplicates": int(dup_of.filter(pl.Series(drop)).n_unique()),
                 "bands": bands, "rows_per_band": rows}
        return StepResult(table.filter(pl.Series(~drop)), ledger.frame(), stats=stats)
