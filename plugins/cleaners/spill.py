"""Arrays that grow batch by batch and move to disk past a memory budget (near-dedup's memory of kept rows).

``Spill`` owns the budget and the folder; ``SortedRuns`` holds sorted,
disjoint uint64 keys with a uint32 owner each, as a few runs merged like a
log-structured tree (runs of similar size are merged, so there are about
log2(rows / batch) of them); ``RowChunks`` holds fixed-width uint8 rows in
chunks of 65,536. Once the bytes held pass the budget, every finished run
and chunk is written to a file and memory-mapped read-only: the operating
system then keeps in RAM only the pages that lookups touch, and may drop them.
"""

from __future__ import annotations

import mmap
import tempfile
import weakref
from itertools import count
from pathlib import Path

import numpy as np


class Spill:
    """The budget (bytes in RAM before spilling) and the folder that receives the files."""

    def __init__(self, budget_bytes: int, folder: str | Path | None = None) -> None:
        self.budget_bytes = budget_bytes
        self._folder = Path(folder) if folder else None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._names = count()
        self.active = False
        self.bytes_on_disk = 0
        self._maps: list[weakref.ref[np.memmap]] = []  # arrays are unhashable: no WeakSet

    def store(self, array: np.ndarray) -> np.ndarray:
        """``array`` itself, or once spilling, a read-only memory map of a file holding it."""
        if not self.active or not array.size:
            return array
        path = self._next_path()
        array.tofile(path)
        self.bytes_on_disk += array.nbytes
        mapped: np.memmap = np.memmap(path, dtype=array.dtype, mode="r", shape=array.shape)
        path.unlink()  # the mapping keeps the data; nothing is left behind when it goes
        self._maps.append(weakref.ref(mapped))
        return mapped

    def allocate(self, length: int, dtype: type) -> np.ndarray:
        """An array to fill: in RAM, or once spilling, a writable memory map of a new file (filled in place,
        so a large result never exists in RAM as a whole)."""
        if not self.active or not length:
            return np.empty(length, dtype=dtype)
        path = self._next_path()
        mapped: np.memmap = np.memmap(path, dtype=dtype, mode="w+", shape=(length,))
        path.unlink()
        self.bytes_on_disk += mapped.nbytes
        self._maps.append(weakref.ref(mapped))
        return mapped

    def release(self) -> None:
        """Unmap the pages that lookups touched from this process (called after each batch).

        Touched pages of a memory-mapped file count in the process's RSS until
        the kernel needs them (about 400 bytes per kept row at 400,000 rows);
        the mappings are shared, so the data stays in the files and the page
        cache, and the next lookup maps again only what it reads.
        """
        self._maps = [ref for ref in self._maps if ref() is not None]  # merged-away runs are gone
        for ref in self._maps:
            region: mmap.mmap | None = getattr(ref(), "_mmap", None)  # numpy's mmap object behind the array
            if region is not None:
                region.madvise(mmap.MADV_DONTNEED)

    def mapped_bytes(self) -> int:
        """Bytes of the live memory-mapped arrays (what lookups and merges may touch)."""
        return sum(array.nbytes for ref in self._maps if (array := ref()) is not None)

    def _next_path(self) -> Path:
        if self._folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="workbench-spill-")
            self._folder = Path(self._tmp.name)
        return self._folder / f"spill-{next(self._names)}.bin"


def in_ram(array: np.ndarray) -> int:
    return 0 if isinstance(array, np.memmap) else array.nbytes


def search_sorted_probes(haystack: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """``np.searchsorted`` for sorted ``probes``, reading only the stretch of ``haystack`` they fall in.

    numpy's search of sorted probes keeps its lower bound but restarts its
    upper bound at the array's end for each probe, so its first halvings
    touch pages far beyond the probes' stretch: on a memory-mapped file of
    40M keys, 156 MB of pages for a slice of probes whose stretch is 64 MB.
    """
    if not len(probes):
        return np.zeros(0, dtype=np.intp)
    low = int(np.searchsorted(haystack, probes[0]))
    high = int(np.searchsorted(haystack, probes[-1], side="right"))
    # numpy's stubs type searchsorted of an array of probes as one integer; it returns an array
    at: np.ndarray = np.searchsorted(haystack[low:high], probes)  # type: ignore[assignment]
    return at + low


class SortedRuns:
    """Sorted disjoint uint64 keys, each with a uint32 owner; a key keeps the owner it was first added with."""

    MERGE_CHUNK = 1 << 20
    LOOKUP_REGION = 64 << 20  # bytes of spilled arrays per slice of probes (``find``)

    def __init__(self, spill: Spill) -> None:
        self.spill = spill
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self.runs)

    def ram_bytes(self) -> int:
        return sum(in_ram(k) + in_ram(o) for k, o in self.runs)

    def add(self, keys: np.ndarray, owners: np.ndarray) -> None:
        """Add keys not seen before (the first owner of a repeated key wins, earlier runs first)."""
        order = np.argsort(keys, kind="stable")
        keys, owners = keys[order], owners[order]
        first = np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, dtype=bool)
        keys, owners = keys[first], owners[first]
        known = self.find(keys) >= 0
        if (~known).any():
            self.runs.append((keys[~known], owners[~known]))
            self._merge()

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The owner of each key, -1 for a key not held (runs are disjoint: at most one run holds a key).

        Keys are probed in sorted order: numpy's search of a million sorted
        probes in 16M keys takes about a tenth of the time of the same probes
        unsorted (each step lands near the last one's instead of on a cold
        cache line), sort included. Once spilling, the sorted probes go in
        slices, each reaching a contiguous stretch of every run, and the
        touched pages are released after each slice: a batch's probes land
        all over the runs, so probed at once they would map nearly every page
        of the key files into the process (about 12 bytes per key held,
        gigabytes at 10M rows).
        """
        slices = min(-(-self.spill.mapped_bytes() // self.LOOKUP_REGION), len(keys)) if self.spill.active else 1
        owner: np.ndarray = np.empty(len(keys), dtype=np.int64)
        for part in np.array_split(np.argsort(keys), max(slices, 1)):
            owner[part] = self._owners(keys[part])
            self.spill.release()  # nothing is mapped before spilling
        return owner

    def _owners(self, keys: np.ndarray) -> np.ndarray:
        """``find`` for sorted keys."""
        owner: np.ndarray = np.full(len(keys), -1, dtype=np.int64)
        for run_keys, run_owners in self.runs:
            at = np.minimum(search_sorted_probes(run_keys, keys), len(run_keys) - 1)
            hit = run_keys[at] == keys
            owner[hit] = run_owners[at[hit]]
        return owner

    def _merge(self) -> None:
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            second, first = self.runs.pop(), self.runs.pop()
            self.runs.append(self._merged(first, second))

    def _merged(self, *runs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Two disjoint sorted runs as one, placed a stretch at a time into the output (a file once spilling).

        The larger run is cut in chunks, and each chunk takes the keys of the
        smaller run that fall in its range, so each step reads one stretch of
        each input and writes one stretch of the output. A key's place is the
        stretch's start plus its index in its own piece plus the number of
        smaller keys in the other piece: no concatenation or sort of the whole
        (which held about 32 bytes per key, gigabytes at 10M rows). Cutting by
        the larger run matters: a chunk of a batch's small run spreads over
        the whole of a large one, so its writes touched every page of the
        output. The pages each step touched are released before the next, so
        the memory-mapped inputs and output do not pile up in the RSS.
        """
        (big, big_owners), (small, small_owners) = sorted(runs, key=lambda run: len(run[0]), reverse=True)
        keys_out = self.spill.allocate(len(big) + len(small), np.uint64)
        owners_out = self.spill.allocate(len(big) + len(small), np.uint32)
        low = 0
        for start in range(0, len(big), self.MERGE_CHUNK):
            stop = min(start + self.MERGE_CHUNK, len(big))
            high = int(np.searchsorted(small, big[stop])) if stop < len(big) else len(small)
            mine, theirs = np.asarray(big[start:stop]), np.asarray(small[low:high])
            for part, owners, other in ((mine, big_owners[start:stop], theirs), (theirs, small_owners[low:high], mine)):
                at = start + low + np.arange(len(part)) + np.searchsorted(other, part)
                keys_out[at], owners_out[at] = part, owners
            low = high
            self.spill.release()
        return keys_out, owners_out

    def spill_all(self) -> None:
        self.runs = [(self.spill.store(np.asarray(k)), self.spill.store(np.asarray(o))) if not isinstance(k, np.memmap)
                     else (k, o) for k, o in self.runs]


class RowChunks:
    """Rows of ``width`` uint8 values, appended in order and read back by row number."""

    CHUNK = 65_536

    def __init__(self, width: int, spill: Spill) -> None:
        self.width, self.spill = width, spill
        self.chunks: list[np.ndarray] = []
        self.size = 0

    def ram_bytes(self) -> int:
        return sum(in_ram(c) for c in self.chunks)

    def append(self, rows: np.ndarray) -> None:
        done = 0
        while done < len(rows):
            at = self.size % self.CHUNK
            if at == 0:
                self.chunks.append(np.zeros((self.CHUNK, self.width), dtype=np.uint8))
            take = min(self.CHUNK - at, len(rows) - done)
            self.chunks[-1][at:at + take] = rows[done:done + take]
            done += take
            self.size += take
            if self.size % self.CHUNK == 0:
                self.chunks[-1] = self.spill.store(self.chunks[-1])  # a full chunk never changes again

    def gather(self, index: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.empty((len(index), self.width), dtype=np.uint8)
        chunk: np.ndarray = index // self.CHUNK
        for c in np.unique(chunk):
            picked = chunk == c
            out[picked] = self.chunks[c][index[picked] - c * self.CHUNK]
        return out

    def spill_all(self) -> None:
        full = len(self.chunks) - (1 if self.size % self.CHUNK else 0)
        self.chunks[:full] = [self.spill.store(np.asarray(c)) if not isinstance(c, np.memmap) else c
                              for c in self.chunks[:full]]
