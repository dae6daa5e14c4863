"""MinHash signatures, LSH candidates and their verification for whole tables, in numpy and polars.

Signatures are one-permutation hashing (Li et al. 2012) over each shingle
set taken three times (three independent 64-bit hashes per shingle; the
Jaccard of the tripled sets is that of the sets), so about 70% of the bins of
a ~50-shingle conversation are filled, and the empty bins are filled by *optimal
densification* (Shrivastava 2017): each empty bin copies the first filled bin
of a probe sequence that depends only on the bin, the same for every row.
That keeps the estimate unbiased with close to k-permutation variance and,
unlike rotation densification, does not make bands of neighbouring empty bins
collide for unrelated rows. Everything runs over all rows at once: scatter
minima with ``np.minimum.at``, probes as row gathers on the bin-major matrix,
band keys as uint64, buckets found with polars, pairs built in numpy.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import polars as pl

MASK32 = np.uint64(0xFFFFFFFF)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
EMPTY = np.uint32(0xFFFFFFFF)
#: independent hashes per shingle (set copies) before one-permutation hashing
COPIES = 3
#: probes of optimal densification before falling back to the row's first filled bin
PROBES = 48


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
    """Lower-cased words, punctuation dropped: what shingles are made of (drop the empty strings at the ends)."""
    return texts.fill_null("").str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}\[\]]+", " ").str.split(" ")


def shingles(texts: pl.Series, size: int) -> pl.DataFrame:
    """(row, shingle hash) pairs, repeats included: word ``size``-grams; shorter texts use their words.

    Each word is hashed once (polars), and the n-gram hashes are combined
    from the word hashes with shifted numpy arrays over all rows at once.
    """
    words = (
        pl.DataFrame({"w": texts}).select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), normalised_words(pl.col("w")).alias("w"))
        .explode("w").filter(pl.col("w").str.len_bytes() > 0)
        .select("row", pl.col("w").hash(seed=7))
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
    # rows with fewer than ``size`` words: their words are their shingles
    counts = np.bincount(rows, minlength=int(rows.max()) + 1 if len(rows) else 0)
    in_short = (counts < size)[rows] if len(rows) else np.zeros(0, dtype=bool)
    out_rows = np.concatenate([gram_rows, rows[in_short]])
    out = np.concatenate([mix64(gram), mix64(h[in_short] ^ GOLDEN)])
    return pl.DataFrame({"row": out_rows, "h": out})  # repeats within a row do not change a MinHash


@lru_cache(maxsize=8)
def _probes(num_perm: int) -> np.ndarray:
    """(PROBES, num_perm) bins that an empty bin tries in turn; fixed, the same for every row."""
    return np.random.default_rng(0x5EED).integers(0, num_perm, size=(PROBES, num_perm))


def signatures(sh: pl.DataFrame, n_rows: int, num_perm: int) -> np.ndarray:
    """(n_rows, num_perm) uint32 densified OPH signatures; rows without shingles stay EMPTY."""
    if num_perm & (num_perm - 1):
        raise ValueError(f"num_perm must be a power of two, got {num_perm}")
    h0 = sh.get_column("h").to_numpy()
    base = sh.get_column("row").to_numpy().astype(np.int64)
    shift = np.uint64(64 - (num_perm.bit_length() - 1))
    flat: np.ndarray = np.full(n_rows * num_perm, EMPTY, dtype=np.uint32)
    for copy in range(COPIES):
        h = h0 if copy == 0 else mix64(h0 ^ np.uint64((0x632BE59BD9B4E019 * copy) & 0xFFFFFFFFFFFFFFFF))
        bins = (h >> shift).astype(np.int64) if num_perm > 1 else np.zeros(len(h), dtype=np.int64)
        np.minimum.at(flat, base * num_perm + bins, (h & MASK32).astype(np.uint32))
    return densify(flat.reshape(n_rows, num_perm))


def blocked_signatures(texts: pl.Series, size: int, num_perm: int, block: int = 32768) -> tuple[pl.DataFrame, np.ndarray]:
    """Shingles (row, hash) and signatures of all texts, computed in blocks of rows.

    Blocks keep the signature matrix and the shingle arrays of one step
    cache-sized: on 200,000 conversations this is about 1.5x faster than one
    block (the cost per row grows with the matrix otherwise).
    """
    parts, sigs = [], []
    for start in range(0, len(texts), block):
        sh = shingles(texts.slice(start, block), size)
        sigs.append(signatures(sh, min(block, len(texts) - start), num_perm))
        parts.append(sh.with_columns(pl.col("row") + pl.lit(start, dtype=pl.UInt32)))
    if not parts:
        return pl.DataFrame(schema={"row": pl.UInt32, "h": pl.UInt64}), np.zeros((0, num_perm), dtype=np.uint32)
    return pl.concat(parts), np.concatenate(sigs)


def densify(sig: np.ndarray) -> np.ndarray:
    """Optimal densification: each empty bin copies the first filled bin of its fixed probe sequence.

    Works on the list of empty cells only, which shrinks by the filled
    fraction at each probe, so the cost is a small multiple of the empty cells.
    """
    n, p = sig.shape
    if n == 0:
        return sig
    out = sig.copy()
    flat, src_flat = out.reshape(-1), sig.reshape(-1)
    filled = src_flat != EMPTY
    has_any = filled.reshape(n, p).any(axis=1)
    index = np.int32 if n * p < 2 ** 31 else np.int64
    cell: np.ndarray = np.flatnonzero(~filled & np.repeat(has_any, p)).astype(index)
    probes: np.ndarray = _probes(p).astype(index)
    for attempt in range(PROBES):
        if len(cell) == 0:
            break
        col = cell & (p - 1)  # p is a power of two
        src = cell - col + probes[attempt][col]
        ok = filled[src]
        with np.errstate(over="ignore"):
            flat[cell[ok]] = src_flat[src[ok]] + np.uint32((attempt * 0x9E3779B1) & 0xFFFFFFFF)
        cell = cell[~ok]
    if len(cell):  # a row with very few filled bins: its first filled bin, offset by the bin
        first = np.argmax(filled.reshape(n, p), axis=1)
        col = cell & (p - 1)
        with np.errstate(over="ignore"):
            flat[cell] = src_flat[cell - col + first[cell // p]] + col.astype(np.uint32) * np.uint32(0x85EBCA6B)
    return out


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy 2's hash-based unique is slower on large integer arrays)."""
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


@lru_cache(maxsize=32)
def band_layout(threshold: float, num_perm: int, fp_weight: float = 0.1, fn_weight: float = 0.9) -> tuple[int, int]:
    """(bands, rows per band) minimising weighted false positive and false negative area (recall first)."""
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
    """(n, bands) uint64 hash of each band of each signature; the band number is part of the key."""
    n = sig.shape[0]
    keys = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64) * GOLDEN, (n, bands)).copy()
    with np.errstate(over="ignore"):
        for j in range(rows):
            keys = keys * GOLDEN + sig[:, j:bands * rows:rows][:, :bands].astype(np.uint64)
    return mix64(keys)


def candidate_pairs(keys: np.ndarray, live: np.ndarray, max_bucket: int = 16) -> np.ndarray:
    """(m, 2) unique row pairs (a < b) sharing a band bucket.

    Only keys seen more than once are kept (a polars hash pass); those are
    sorted by (key, row) in numpy. Buckets of up to ``max_bucket`` rows give
    all their pairs; larger ones (text shared by templates) are linked as
    stars to their first row.
    """
    n, bands = keys.shape
    rows: np.ndarray = np.repeat(np.arange(n, dtype=np.int64), bands)[np.repeat(live, bands)]
    return bucket_pairs(keys[live].ravel(), rows, n, max_bucket)


def bucket_pairs(flat: np.ndarray, rows: np.ndarray, n: int, max_bucket: int = 16) -> np.ndarray:
    """``candidate_pairs`` on (band key, row) records of rows numbered below ``n``.

    Buckets are decided key by key, so records split by key (the band join
    of the Ray executor) give, together, the pairs of all the records.
    """
    shared = pl.Series(flat).is_duplicated().to_numpy()
    flat, rows = flat[shared], rows[shared]
    if len(flat) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    order = np.lexsort((rows, flat))
    flat, rows = flat[order], rows[order]
    start = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    size = np.diff(np.r_[start, len(flat)])
    group: np.ndarray = np.repeat(np.arange(len(start)), size)
    gsize = size[group]
    parts = []
    small = gsize <= max_bucket
    for d in range(1, max_bucket):
        i = np.flatnonzero(small[:-d] & (group[:-d] == group[d:])) if d < len(flat) else np.zeros(0, dtype=np.int64)
        if len(i) == 0:
            break
        parts.append(np.stack([rows[i], rows[i + d]], axis=1))
    big = ~small
    big_first = rows[start][group[big]]
    parts.append(np.stack([big_first, rows[big]], axis=1)[big_first != rows[big]])
    pairs = np.concatenate(parts)
    code = sorted_unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([code // n, code % n], axis=1)


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
    """Exact Jaccard of the shingle sets of each pair.

    The sets of the rows involved become one sorted array of keys
    ``row << 32 | 32-bit shingle hash``; each shingle of a pair's first row
    is looked up in the second row's keys with one ``searchsorted`` over all
    pairs at once.
    """
    if len(pairs) == 0:
        return np.zeros(0)
    rows = sh.get_column("row").to_numpy().astype(np.uint64)
    involved: np.ndarray = np.zeros(int(rows.max()) + 1 if len(rows) else 1, dtype=bool)
    involved[pairs.ravel()] = True
    pick = involved[rows.astype(np.int64)]
    keys = sorted_unique((rows[pick] << np.uint64(32)) | (sh.get_column("h").to_numpy()[pick] >> np.uint64(32)))
    key_rows = (keys >> np.uint64(32)).astype(np.int64)
    # numpy's stubs type searchsorted of an array of probes as one integer; it returns an array
    starts: np.ndarray = np.searchsorted(key_rows, np.arange(len(involved)))  # type: ignore[assignment]
    sizes = np.diff(np.r_[starts, len(keys)])
    a, b = pairs[:, 0], pairs[:, 1]
    na, nb = sizes[a], sizes[b]
    owner: np.ndarray = np.repeat(np.arange(len(pairs)), na)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(na) - na, na)
    probe = (b[owner].astype(np.uint64) << np.uint64(32)) | (keys[starts[a][owner] + offset] & MASK32)
    at = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
    inter = np.bincount(owner[keys[at] == probe], minlength=len(pairs))
    union = na + nb - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def bbit_estimate(equal_fraction: np.ndarray, bits: int = 8) -> np.ndarray:
    """Jaccard from the fraction of equal ``bits``-bit bin values (corrects chance equality, Li & König 2010)."""
    chance = 1.0 / (1 << bits)
    return np.clip((equal_fraction - chance) / (1 - chance), 0.0, 1.0)


def verify(sh: pl.DataFrame, sigs: np.ndarray, pairs: np.ndarray, threshold: float, margin: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs at or above ``threshold`` and their similarity.

    The 8-bit estimate over all bins decides pairs that are clearly in or out;
    those within ``margin`` of the threshold get their exact Jaccard
    (``margin=None``: the estimate decides everything).
    """
    low_bits = (sigs & np.uint32(0xFF)).astype(np.uint8)  # b-bit MinHash: a quarter of the memory traffic
    est = bbit_estimate(estimated_pairs(low_bits, pairs, bins=max(16, sigs.shape[1] // 4)))  # a quarter of the bins narrows
    near = est >= threshold - 0.3
    pairs, est = pairs[near], bbit_estimate(estimated_pairs(low_bits, pairs[near]))
    if margin is not None:
        unsure = np.abs(est - threshold) < margin
        est[unsure] = exact_jaccard(sh, pairs[unsure])
    keep = est >= threshold
    return pairs[keep], est[keep]


def greedy_representatives(n: int, pairs: np.ndarray, sim: np.ndarray, outside: dict[int, tuple[int, float]] | None = None
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the first row of each group, in table order, as the datasketch query-then-insert loop does.

    A row is dropped when it is similar to an earlier row that was *kept*
    (verified pair), or to a remembered row of an earlier batch
    (``outside``: row -> (memory index, similarity)); it is never linked
    through another dropped row, so each dropped row is similar to its
    representative. Returns (representative row or -1, memory index or -1,
    similarity to the representative).
    """
    rep = np.arange(n)
    mem: np.ndarray = np.full(n, -1, dtype=np.int64)
    to_rep = np.ones(n)
    outside = outside or {}
    for row, (m, s) in outside.items():
        rep[row], mem[row], to_rep[row] = -1, m, s
    if len(pairs):
        order = np.lexsort((pairs[:, 0], pairs[:, 1]))
        later, earlier, sims = pairs[order, 1].tolist(), pairs[order, 0].tolist(), sim[order].tolist()
        kept = rep == np.arange(n)
        kept_l = kept.tolist()
        for b, a, s in zip(later, earlier, sims):
            if kept_l[b] and kept_l[a]:
                kept_l[b] = False
                rep[b], to_rep[b] = a, s
    return rep, mem, to_rep


class Found(NamedTuple):
    """What near-dedup found in a table (see ``NearDedup.find``)."""

    rep: np.ndarray
    mem: np.ndarray
    to_rep: np.ndarray
    sigs: np.ndarray
    keys: np.ndarray
    pairs: np.ndarray  # verified pairs (a < b) at or above the threshold
    sh: pl.DataFrame  # (row, shingle hash) of every row


class NearDupMemory:
    """What near-dedup remembers of the rows it kept in earlier batches, compactly.

    Per kept row: its id (one polars string Series), 8-bit slices of its
    signature (``num_perm`` bytes; b-bit MinHash, Li & König 2010) and its
    band keys, held as sorted uint64 runs with the memory index of the first
    row per key (uint32), and its shingle set (32-bit hashes, about 80 bytes)
    so that pairs near the threshold are decided on the exact Jaccard as
    within a batch. No text and no frames are kept. Past ``budget_bytes``
    all but the ids (about 20 bytes a row) move to memory-mapped files
    (:mod:`workbench.plugins.cleaners.spill`).
    """

    def __init__(self, num_perm: int, budget_bytes: int = 1 << 30, spill_dir: str | None = None) -> None:
        from .spill import RowChunks, SortedRuns, Spill

        self.num_perm = num_perm
        self.spill = Spill(budget_bytes, spill_dir)
        self.ids = pl.Series("id", [], dtype=pl.Utf8)
        self.bits = RowChunks(num_perm, self.spill)
        self.keys = SortedRuns(self.spill)
        self.sets = ShingleSets()
        self.size = 0

    @classmethod
    def empty(cls, num_perm: int, budget_bytes: int = 1 << 30, spill_dir: str | None = None) -> NearDupMemory:
        return cls(num_perm, budget_bytes, spill_dir)

    def nbytes(self) -> int:
        """Bytes held in RAM (memory-mapped files not counted)."""
        return int(self.bits.ram_bytes() + self.keys.ram_bytes() + self.sets.ram_bytes() + self.ids.estimated_size())

    def add(self, ids: pl.Series, sigs: np.ndarray, keys: np.ndarray, sets: tuple[np.ndarray, np.ndarray]) -> None:
        """Remember kept rows: ids, signatures, band keys and shingle sets (``shingle_sets``)."""
        n, bands = keys.shape
        if n == 0:
            return
        self.sets.append(self.spill.store(sets[0]), self.spill.store(sets[1]))
        self.ids.append(ids.cast(pl.Utf8).rename("id"))  # a chunk more, no copy of the ids held
        self.bits.append((sigs & np.uint32(0xFF)).astype(np.uint8))
        # one remembered row per bucket (the first) keeps probes linear
        self.keys.add(keys.ravel(), np.repeat(np.arange(self.size, self.size + n, dtype=np.uint32), bands))
        self.size += n
        if not self.spill.active and self.nbytes() > self.spill.budget_bytes:
            self.spill.active = True
            self.bits.spill_all()
            self.keys.spill_all()
            self.sets.parts = [(self.spill.store(o), self.spill.store(h)) for o, h in self.sets.parts]
        if self.spill.active:
            self.spill.release()

    def estimate(self, sigs: np.ndarray, mem: np.ndarray) -> np.ndarray:
        """b-bit estimate of the Jaccard between new signatures and remembered rows."""
        return bbit_estimate(((sigs & np.uint32(0xFF)).astype(np.uint8) == self.bits.gather(mem)).mean(axis=1))

    def matches(self, keys: np.ndarray, sigs: np.ndarray, live: np.ndarray, threshold: float,
                sh: pl.DataFrame | None = None, margin: float | None = None) -> dict[int, tuple[int, float]]:
        """New row -> (memory index, Jaccard) for rows that duplicate a remembered one.

        As within a batch (``verify``): the 8-bit estimate decides, and pairs
        within ``margin`` of the threshold get the exact Jaccard of their
        shingle sets (the new rows' from ``sh``, the remembered ones' kept).
        """
        if self.size == 0 or keys.shape[0] == 0:
            return {}
        n, bands = keys.shape
        owner = self.keys.find(keys.ravel())
        hit = (owner >= 0) & np.repeat(live, bands)
        if not hit.any():
            return {}
        code = sorted_unique(np.flatnonzero(hit) // bands * (1 << 32) + owner[hit])
        row, mem = code >> 32, code & 0xFFFFFFFF
        est = self.estimate(sigs[row], mem)
        if margin is not None and sh is not None:
            unsure = np.abs(est - threshold) < margin
            if unsure.any():
                new = shingle_sets(sh, np.ones(len(keys), dtype=bool))
                est[unsure] = [jaccard(set_of(new, r), self.sets.of(m)) for r, m in zip(row[unsure], mem[unsure])]
        ok = est >= threshold
        out: dict[int, tuple[int, float]] = {}
        for r, m, j in zip(row[ok].tolist(), mem[ok].tolist(), est[ok].tolist()):
            out.setdefault(r, (m, j))
        return out


def shingle_sets(sh: pl.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 32-bit shingle sets of the rows where ``rows`` (a mask) is True, in order, as (offsets, hashes);
    the same 32 bits ``exact_jaccard`` compares."""
    row = sh.get_column("row").to_numpy().astype(np.int64)
    picked = rows[row] if len(row) else np.zeros(0, dtype=bool)
    new_index = np.cumsum(rows) - 1
    code = sorted_unique((new_index[row[picked]].astype(np.uint64) << np.uint64(32))
                         | (sh.get_column("h").to_numpy()[picked] >> np.uint64(32)))
    counts = np.bincount((code >> np.uint64(32)).astype(np.int64), minlength=int(rows.sum()))
    return np.r_[0, np.cumsum(counts)].astype(np.int64), (code & MASK32).astype(np.uint32)


def set_of(sets: tuple[np.ndarray, np.ndarray], i: int) -> np.ndarray:
    offsets, hashes = sets
    return hashes[offsets[i]:offsets[i + 1]]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard of two sorted unique arrays (0 for two empty sets, as ``exact_jaccard``)."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


class ShingleSets:
    """The shingle sets of remembered rows, one (offsets, hashes) part per batch, found by row number."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []
        self.starts: list[int] = []
        self.size = 0

    def append(self, offsets: np.ndarray, hashes: np.ndarray) -> None:
        self.parts.append((offsets, hashes))
        self.starts.append(self.size)
        self.size += len(offsets) - 1

    def of(self, row: int) -> np.ndarray:
        from bisect import bisect_right

        part = bisect_right(self.starts, row) - 1
        return set_of(self.parts[part], row - self.starts[part])

    def ram_bytes(self) -> int:
        return sum(o.nbytes + h.nbytes for o, h in self.parts if not isinstance(h, np.memmap))
