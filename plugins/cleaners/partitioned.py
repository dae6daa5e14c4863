"""Quality and dedup cleaners on partitions of a table (the Ray executor, ``workbench.runtime.ray_executor``).

Each function gives the result the cleaner gives on the whole table in
memory: the same kept ids, ledger and counts. Only the primitives of
``Partitions`` are used (``gather``, ``shuffle``, ``map``), so nothing here
imports Ray. Rows are numbered by their global source order (``order``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from workbench.ledger import StepResult

from . import minhash
from .dedup import compared_text
from .quality import LengthStats, _tokens
from .turns import explode_turns

if TYPE_CHECKING:
    from workbench.runtime.ray_executor import Partitions

    from .dedup import ExactDedup, NearDedup
    from .quality import QualityFilter


def quality(cleaner: QualityFilter, parts: Partitions) -> StepResult:
    """Token-count histograms per partition, reduced to the bounds of the whole table, then the filter."""
    import copy

    def histograms(table: pl.DataFrame, order: np.ndarray) -> LengthStats:
        stats = LengthStats()
        stats.observe(_tokens(explode_turns(table)))
        return stats

    judge = copy.deepcopy(cleaner)
    judge._stats = LengthStats()
    if cleaner.needs_first_pass():
        for stats in parts.gather(histograms):
            judge._stats.merge(stats)
    judge.freeze()
    return parts.map(lambda table, order, ctx: judge.run(table, ctx), cleaner.name)


def exact_dedup(cleaner: ExactDedup, parts: Partitions) -> StepResult:
    """A group-by on the text hash across partitions: every row but the first in source order is dropped."""
    def emit(table: pl.DataFrame, order: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame({"h": cleaner.hashes(table), "order": order, "id": table["id"]})

    def firsts(group: pl.DataFrame) -> pl.DataFrame:
        group = group.sort("order").with_columns(pl.col("id").first().over("h").alias("first"))
        return group.filter(pl.col("first") != pl.col("id")).select("id", "first")

    duplicates = pl.concat([pl.DataFrame(schema={"id": pl.Utf8, "first": pl.Utf8}), *parts.shuffle(emit, "h", firsts)])

    def drop(table: pl.DataFrame, order: np.ndarray, ctx) -> StepResult:
        marked = table.join(duplicates.rename({"first": "__first"}), on="id", how="left", maintain_order="left")
        return cleaner.drop_duplicates(marked.with_columns(pl.col("__first").fill_null(pl.col("id"))))

    return parts.map(drop, cleaner.name)


def near_dedup(cleaner: NearDedup, parts: Partitions) -> StepResult:
    """The near-dedup step as a distributed band join.

    1. signatures and band keys per partition; records (band key, order) are
       shuffled by key and each group of keys gives its candidate pairs
       (``minhash.bucket_pairs``, the buckets of the in-memory step);
    2. the rows in a candidate pair send their 8-bit signatures and shingle
       sets to the driver, which verifies the pairs (``minhash.verify``) and
       keeps the first row of each group in source order
       (``minhash.greedy_representatives``): memory for the rows in candidate
       pairs only;
    3. every partition drops its duplicates and writes their ledger entries.
    """
    o = cleaner.options
    bands, rows_per_band = cleaner.layout()
    n = parts.height

    def signed(table: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
        return minhash.blocked_signatures(compared_text(table, o.on, o.column), o.shingle_size, o.num_perm)

    def band_records(table: pl.DataFrame, order: np.ndarray) -> pl.DataFrame:
        _, sigs = signed(table)
        live = sigs[:, 0] != minhash.EMPTY
        keys = minhash.band_keys(sigs[live], bands, rows_per_band)
        return pl.DataFrame({"key": keys.ravel(), "row": np.repeat(order[live], bands)})

    def bucket(group: pl.DataFrame) -> np.ndarray:
        return minhash.bucket_pairs(group["key"].to_numpy(), group["row"].to_numpy(), n)

    found = [p for p in parts.shuffle(band_records, "key", bucket) if len(p)]
    pairs = np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)
    code = minhash.sorted_unique(pairs[:, 0] * n + pairs[:, 1])
    pairs = np.stack([code // n, code % n], axis=1)
    involved = minhash.sorted_unique(pairs.ravel())

    def evidence(table: pl.DataFrame, order: np.ndarray) -> tuple[np.ndarray, pl.Series, np.ndarray, pl.DataFrame]:
        mask = np.isin(order, involved)
        picked = table.filter(pl.Series(mask))
        sh, sigs = signed(picked)
        return order[mask], picked["id"], (sigs & np.uint32(0xFF)).astype(np.uint8), sh

    drop_of: dict[str, tuple[str, float]] = {}
    if len(involved):
        got = parts.gather(evidence)
        orders = np.concatenate([g[0] for g in got])  # partitions come back in source order
        ids = pl.concat([g[1] for g in got])
        low_bits = np.concatenate([g[2] for g in got])
        starts = np.cumsum([0] + [len(g[0]) for g in got])
        sh = pl.concat([g[3].with_columns(pl.col("row") + pl.lit(int(start), dtype=pl.UInt32))
                        for g, start in zip(got, starts[:-1])])
        local = np.asarray(np.searchsorted(orders, pairs))
        verified, sim = minhash.verify(sh, low_bits, local, o.threshold, 0.15 if o.exact_check else None)
        rep, _, to_rep = minhash.greedy_representatives(len(orders), verified, sim)
        dropped = np.flatnonzero(rep != np.arange(len(orders)))
        drop_of = dict(zip(ids.gather(dropped).to_list(),
                           zip(ids.gather(rep[dropped]).to_list(), to_rep[dropped].tolist())))

    def drop(table: pl.DataFrame, order: np.ndarray, ctx) -> StepResult:
        ids = table["id"].to_list()
        found = [drop_of.get(i) for i in ids]
        mask = np.array([f is not None for f in found], dtype=bool)
        dup_of = pl.Series("__rep", [f[0] if f else i for f, i in zip(found, ids)], dtype=pl.Utf8)
        to_rep = np.array([f[1] if f else 1.0 for f in found])
        return cleaner.drop_duplicates(table, mask, dup_of, to_rep)

    result = parts.map(drop, cleaner.name)
    clusters = len({rep for rep, _ in drop_of.values()})
    result.stats = {"dropped": len(drop_of), "clusters_with_duplicates": clusters, "bands": bands,
                    "rows_per_band": rows_per_band, "candidate_pairs": len(pairs)}
    return result
