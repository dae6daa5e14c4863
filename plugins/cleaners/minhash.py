"""MinHash signatures and LSH candidates for whole tables, in numpy and polars.

One-permutation hashing with rotation densification (Li et al. 2012;
Shrivastava & Li 2014): each word shingle is hashed once and falls into one
of ``num_perm`` bins, each bin keeps its minimum, and empty bins borrow from
the next non-empty bin. That costs one hash per shingle instead of one per
shingle and permutation (what datasketch does), with the same Jaccard
estimate: the fraction of equal bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
EMPTY = np.uint32(0xFFFFFFFF)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads combined hashes uniformly over 64 bits."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def normalised_words(texts: pl.Expr) -> pl.Expr:
    """Lower-cased words, punctuation dropped: what shingles are made of."""
    return texts.fill_null("").str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}\[\]]+", " ").str.strip_chars().str.split(" ")


def shingles(texts: pl.Series, size: int) -> pl.DataFrame:
    """(row, shingle hash) pairs, repeats included: word ``size``-grams; shorter texts use their words."""
    words = (
        pl.DataFrame({"w": texts}).select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), normalised_words(pl.col("w")).alias("w"))
        .explode("w").filter(pl.col("w").str.len_bytes() > 0)
        .with_columns(pl.col("w").hash(seed=7))
    )
    rows = words.get_column("row").to_numpy()
    h = words.get_column("w").to_numpy()
    n = len(h) - size + 1
    if n > 0:
        gram = h[:n].copy()
        with np.errstate(over="ignore"):
            for j in range(1, size):
                gram = gram * GOLDEN + h[j:j + n]
        valid = rows[:n] == rows[size - 1:size - 1 + n]
        gram_rows, gram = rows[:n][valid], gram[valid]
    else:
        gram_rows, gram = rows[:0], h[:0]
    short = np.setdiff1d(np.unique(rows), np.unique(gram_rows), assume_unique=True)
    in_short = np.isin(rows, short)
    out_rows = np.concatenate([gram_rows, rows[in_short]])
    out = np.concatenate([mix64(gram), mix64(h[in_short] ^ GOLDEN)])
    return pl.DataFrame({"row": out_rows, "h": out})  # repeats within a row do not change a MinHash


def signatures(sh: pl.DataFrame, n_rows: int, num_perm: int) -> np.ndarray:
    """(n_rows, num_perm) uint32 OPH signatures; rows without shingles stay EMPTY."""
    if num_perm & (num_perm - 1):
        raise ValueError(f"num_perm must be a power of two, got {num_perm}")
    h = sh.get_column("h").to_numpy()
    shift = np.uint64(64 - (num_perm.bit_length() - 1))
    bins = (h >> shift).astype(np.int64) if num_perm > 1 else np.zeros(len(h), dtype=np.int64)
    sig = np.full((n_rows, num_perm), EMPTY, dtype=np.uint32)
    flat = sig.reshape(-1)
    np.minimum.at(flat, sh.get_column("row").to_numpy().astype(np.int64) * num_perm + bins, (h & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    return densify(sig)


def densify(sig: np.ndarray) -> np.ndarray:
    """Fill each empty bin from the next non-empty bin to its right (circular), offset by distance."""
    n, p = sig.shape
    if n == 0:
        return sig
    filled = sig != EMPTY
    pos = np.where(np.concatenate([filled, filled], axis=1), np.arange(2 * p, dtype=np.int32), 2 * p)
    nxt = np.minimum.accumulate(pos[:, ::-1], axis=1)[:, ::-1][:, :p]
    has_any = filled.any(axis=1)
    nxt = np.where(has_any[:, None], nxt, np.arange(p)[None, :])
    dist = (nxt - np.arange(p)[None, :]).astype(np.uint32)
    src = np.take_along_axis(sig, nxt % p, axis=1)
    with np.errstate(over="ignore"):
        out = np.where(filled, sig, src + dist * np.uint32(0x9E3779B1))
    out[~has_any] = EMPTY
    return out


@lru_cache(maxsize=32)
def band_layout(threshold: float, num_perm: int, fp_weight: float = 0.2, fn_weight: float = 0.8) -> tuple[int, int]:
    """(bands, rows per band) minimising weighted false positive and false negative area."""
    s = np.linspace(0.0, 1.0, 401)
    best, best_err = (1, num_perm), np.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1 - (1 - s ** r) ** b
            fp = np.trapezoid(np.where(s < threshold, p, 0), s)
            fn = np.trapezoid(np.where(s >= threshold, 1 - p, 0), s)
            err = fp_weight * fp + fn_weight * fn
            if err < best_err:
                best, best_err = (b, r), err
    return best


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64 hash of each band of each signature."""
    n = sig.shape[0]
    keys = np.zeros((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(rows):
            keys = keys * GOLDEN + sig[:, j:bands * rows:rows][:, :bands].astype(np.uint64)
    return mix64(keys)


def candidate_pairs(keys: np.ndarray, live: np.ndarray, max_bucket: int = 16) -> np.ndarray:
    """(m, 2) unique row pairs sharing a band bucket.

    Buckets of up to ``max_bucket`` rows give all their pairs; larger ones
    (text shared by templates) are linked as stars to their first row.
    """
    n, bands = keys.shape
    frame = pl.DataFrame({"band": np.tile(np.arange(bands, dtype=np.int32), n), "key": keys.ravel(),
                          "row": np.repeat(np.arange(n, dtype=np.int64), bands)})
    frame = frame.filter(pl.Series(np.repeat(live, bands)))
    buckets = frame.group_by("band", "key").agg(pl.col("row").sort()).filter(pl.col("row").list.len() > 1)
    small = buckets.filter(pl.col("row").list.len() <= max_bucket).with_row_index("b").explode("row")
    pairs = small.join(small, on="b").filter(pl.col("row") < pl.col("row_right")).select("row", "row_right")
    stars = (buckets.filter(pl.col("row").list.len() > max_bucket)
             .select(pl.col("row").list.first().alias("row"), pl.col("row").list.slice(1).alias("row_right"))
             .explode("row_right"))
    allp = pl.concat([pairs, stars]).unique()
    return allp.to_numpy().astype(np.int64).reshape(-1, 2)


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    return (sig_a == sig_b).mean(axis=1)


def estimated_pairs(sigs: np.ndarray, pairs: np.ndarray, bins: int | None = None, chunk: int = 65536) -> np.ndarray:
    """Estimated Jaccard of each pair from the first ``bins`` bins, in cache-sized chunks."""
    cols = sigs if bins is None else sigs[:, :bins]
    out = np.empty(len(pairs))
    for start in range(0, len(pairs), chunk):
        p = pairs[start:start + chunk]
        out[start:start + chunk] = estimated_jaccard(cols[p[:, 0]], cols[p[:, 1]])
    return out


def exact_jaccard(sh: pl.DataFrame, pairs: np.ndarray) -> np.ndarray:
    """Exact Jaccard of the shingle sets of each pair (polars joins)."""
    if len(pairs) == 0:
        return np.zeros(0)
    involved = np.unique(pairs)
    sh = sh.filter(pl.col("row").is_in(pl.Series(involved.astype(np.uint32)).implode())).unique()
    sizes = sh.group_by("row").len()
    p = pl.DataFrame({"a": pairs[:, 0].astype(np.uint32), "b": pairs[:, 1].astype(np.uint32)}).with_row_index("pair")
    inter = (p.join(sh, left_on="a", right_on="row").join(sh, left_on=["b", "h"], right_on=["row", "h"], how="semi")
             .group_by("pair").len().rename({"len": "inter"}))
    out = (p.join(inter, on="pair", how="left").fill_null(0)
           .join(sizes.rename({"row": "a", "len": "na"}), on="a").join(sizes.rename({"row": "b", "len": "nb"}), on="b")
           .sort("pair").select(pl.col("inter") / (pl.col("na") + pl.col("nb") - pl.col("inter"))))
    return out.to_series().to_numpy()


def clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """Cluster label per row: the smallest row index of its connected component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(pairs) == 0:
        return np.arange(n)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    first = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    return first[labels]


@dataclass
class NearDupMemory:
    """Kept rows of earlier batches: ids, signatures and band keys (no text)."""

    ids: list[str]
    sigs: np.ndarray
    keys: pl.DataFrame  # band, key, mem

    @classmethod
    def empty(cls, num_perm: int) -> "NearDupMemory":
        return cls([], np.zeros((0, num_perm), dtype=np.uint32),
                   pl.DataFrame(schema={"band": pl.Int32, "key": pl.UInt64, "mem": pl.Int64}))

    def add(self, ids: list[str], sigs: np.ndarray, keys: np.ndarray) -> None:
        start = len(self.ids)
        n, bands = keys.shape
        new = pl.DataFrame({"band": np.tile(np.arange(bands, dtype=np.int32), n), "key": keys.ravel(),
                            "mem": np.repeat(np.arange(start, start + n, dtype=np.int64), bands)})
        self.ids.extend(ids)
        self.sigs = np.concatenate([self.sigs, sigs])
        # one remembered row per bucket is enough to link a new row, and keeps probes linear
        self.keys = pl.concat([self.keys, new]).unique(["band", "key"], keep="first", maintain_order=True)

    def matches(self, keys: np.ndarray, sigs: np.ndarray, live: np.ndarray, threshold: float) -> dict[int, tuple[int, float]]:
        """New row -> (memory index, estimated Jaccard) for rows that duplicate a remembered one."""
        if not self.ids or keys.shape[0] == 0:
            return {}
        n, bands = keys.shape
        probe = pl.DataFrame({"band": np.tile(np.arange(bands, dtype=np.int32), n), "key": keys.ravel(),
                              "row": np.repeat(np.arange(n, dtype=np.int64), bands)}).filter(pl.Series(np.repeat(live, bands)))
        hits = probe.join(self.keys, on=["band", "key"]).select("row", "mem").unique().sort("row", "mem")
        if hits.height == 0:
            return {}
        r, m = hits["row"].to_numpy(), hits["mem"].to_numpy()
        est = estimated_jaccard(sigs[r], self.sigs[m])
        out: dict[int, tuple[int, float]] = {}
        for row, mem, j in zip(r[est >= threshold], m[est >= threshold], est[est >= threshold]):
            out.setdefault(int(row), (int(mem), float(j)))
        return out
