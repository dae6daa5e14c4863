"""The default cleaning chain, and running a chain in memory or batch-wise.

``DEFAULT_CHAIN`` is the list of (cleaner name, options) used by the
benchmark and proposed for run files. ``run_chain_batched`` streams a Parquet
file in record batches through the chain and appends each batch's output and
ledger to Parquet files, so memory holds one batch plus the deduplication
memory (a 64-bit hash per kept row, and a MinHash signature and band keys per
kept row), never the whole file.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import polars as pl

from workbench import schema
from workbench.components import Cleaner
from workbench.context import StepContext
from workbench.errors import WorkbenchError
from workbench.ledger import balance_problem, empty_ledger

ChainSpec = Sequence[tuple[str, dict[str, Any]]]

DEFAULT_CHAIN: tuple[tuple[str, dict[str, Any]], ...] = (
    ("structure", {}),
    ("unicode", {}),
    ("whitespace", {}),
    ("pii", {}),
    ("quality", {}),
    ("exact-dedup", {"on": "conversation"}),
    ("near-dedup", {"threshold": 0.7, "shingle_size": 3, "num_perm": 128}),
)


def build_chain(spec: ChainSpec = DEFAULT_CHAIN) -> list[Cleaner]:
    """Cleaner instances for a chain spec, looked up by name in the plugin registry.

    Built-in and third-party cleaners are found the same way, so a cleaner
    from an installed plugin or the plugins folder can be part of a chain.
    """
    from workbench.runtime.discovery import get_registry

    registry = get_registry()
    chain: list[Cleaner] = []
    for name, options in spec:
        cleaner = registry.get("cleaner", name)(options)
        if not isinstance(cleaner, Cleaner):  # registration checks the base class: only a patched registry gets here
            raise WorkbenchError(f"{name!r} is registered as a cleaner but is not a workbench.Cleaner")
        chain.append(cleaner)
    return chain


@runtime_checkable
class FirstPass(Protocol):
    """A cleaner that needs statistics of its whole input (quality's length bounds): it observes every
    batch before it cleans any, then freezes what it observed."""

    def needs_first_pass(self) -> bool: ...

    def observe(self, table: pl.DataFrame) -> None: ...

    def freeze(self) -> None: ...


def first_pass(cleaner: Cleaner) -> FirstPass | None:
    """The cleaner as a FirstPass when it needs one over its whole input, else None."""
    return cleaner if isinstance(cleaner, FirstPass) and cleaner.needs_first_pass() else None


@dataclass
class ChainResult:
    table: pl.DataFrame
    ledger: pl.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def run_chain(table: pl.DataFrame, cleaners: list[Cleaner], ctx: StepContext) -> ChainResult:
    """Run the cleaners in order; checks each step's row accounting."""
    steps = []
    for cleaner in cleaners:
        steps.append(_Step.run(cleaner, table, ctx))
        table = steps[-1].take_table()
    return _chain_result(table, cleaners, steps)


def run_chain_stream(tables: Iterable[pl.DataFrame], cleaners: list[Cleaner], ctx: StepContext,
                     ahead: int = 2) -> Iterator[tuple[int, ChainResult]]:
    """(rows in, ``run_chain`` result) for each table of a stream, in order, each cleaner in a thread of its own.

    Cleaner k works on batch i while cleaner k+1 works on batch i-1, so the
    native work of polars and numpy (which releases the GIL) keeps both
    cores busy where one batch at a time used about one. Each cleaner still
    sees the batches one at a time and in order (one thread each), so the
    dedup memories and the output are those of a sequential run. At most
    ``ahead`` batches beyond the one being handed out are in flight, and each
    holds only its latest table, which bounds memory.
    """
    if not cleaners:
        for table in tables:
            yield table.height, run_chain(table, cleaners, ctx)
        return
    workers = [ThreadPoolExecutor(1, thread_name_prefix=f"cleaner-{c.name}") for c in cleaners]
    in_flight: deque[tuple[int, list[Future[_Step]]]] = deque()

    def handed_out() -> tuple[int, ChainResult]:
        rows_in, futures = in_flight.popleft()
        steps = [future.result() for future in futures]
        return rows_in, _chain_result(steps[-1].take_table(), cleaners, steps)

    try:
        for table in tables:
            futures: list[Future[_Step]] = []
            for cleaner, worker in zip(cleaners, workers):
                futures.append(worker.submit(_Step.after, cleaner, futures[-1] if futures else table, ctx))
            in_flight.append((table.height, futures))
            del table
            if len(in_flight) > ahead:
                yield handed_out()
        while in_flight:
            yield handed_out()
    finally:
        for worker in workers:
            worker.shutdown(cancel_futures=True)


@dataclass
class _Step:
    """One cleaner's result on one table; the table is handed on once (``take_table``) so it is not held twice."""

    table: pl.DataFrame | None
    ledger: pl.DataFrame
    stats: dict[str, Any]
    seconds: float

    @classmethod
    def run(cls, cleaner: Cleaner, table: pl.DataFrame, ctx: StepContext) -> _Step:
        started = time.perf_counter()
        result = cleaner.run(table, ctx)
        problem = balance_problem(table.height, result)
        if problem:
            raise WorkbenchError(f"cleaner {cleaner.name!r}: row accounting does not balance: {problem}")
        return cls(result.table, result.ledger, result.stats, time.perf_counter() - started)

    @classmethod
    def after(cls, cleaner: Cleaner, source: Future[_Step] | pl.DataFrame, ctx: StepContext) -> _Step:
        """Run on a table, or on the table of the step ``source`` once that is done."""
        return cls.run(cleaner, source.result().take_table() if isinstance(source, Future) else source, ctx)

    def take_table(self) -> pl.DataFrame:
        table, self.table = self.table, None
        if table is None:
            raise RuntimeError("a step's table was taken twice")
        return table


def _chain_result(table: pl.DataFrame, cleaners: list[Cleaner], steps: list[_Step]) -> ChainResult:
    seconds: dict[str, float] = {}
    stats: dict[str, Any] = {}
    for cleaner, step in zip(cleaners, steps):
        seconds[cleaner.name] = seconds.get(cleaner.name, 0.0) + step.seconds
        stats[cleaner.name] = step.stats
    ledger = pl.concat([step.ledger for step in steps]) if steps else empty_ledger()
    return ChainResult(table, ledger, seconds, stats)


def segments(cleaners: list[Cleaner]) -> list[list[Cleaner]]:
    """Split a chain before each cleaner that needs a first pass over its whole input (quality's length bounds)."""
    out: list[list[Cleaner]] = [[]]
    for cleaner in cleaners:
        if out[-1] and first_pass(cleaner):
            out.append([])
        out[-1].append(cleaner)
    return out


def run_chain_batched(source: str | Path, target: str | Path, ledger_path: str | Path, *,
                      spec: ChainSpec = DEFAULT_CHAIN, batch_rows: int = 50_000,
                      ctx: StepContext | None = None, on_batch: Callable[[dict[str, Any]], None] | None = None,
                      memory_budget_mb: int = 1024) -> dict[str, Any]:
    """Clean a Parquet file batch by batch, never holding more than one batch of rows.

    The chain is cut before each cleaner that needs statistics of its whole
    input (quality's length bounds): the part before it writes its output to
    a temporary Parquet file while that cleaner observes every batch, then
    the rest of the chain reads the temporary file batch by batch, so the
    result is what the chain gives in memory. Dedup cleaners remember compact
    hashes of what they kept (``start_batches``) to find duplicates across
    batches; past ``memory_budget_mb`` that memory (near-dedup's signatures
    and band keys) moves to memory-mapped files in the chain's temporary
    folder. ``on_batch`` gets per-batch figures (segment, rows, seconds).
    """
    import tempfile

    from workbench.context import scratch_context

    ctx = ctx or scratch_context()
    cleaners = build_chain(spec)
    parts = segments(cleaners)
    totals = {"rows_in": 0, "rows_out": 0, "dropped": 0, "batches": 0, "passes": len(parts)}
    with tempfile.TemporaryDirectory(prefix="chain-", dir=Path(target).parent) as tmp, \
            _ParquetAppender(ledger_path) as ledger_out:
        for cleaner in cleaners:
            start = getattr(cleaner, "start_batches", None)
            if start is not None:
                _start_batches(start, memory_budget_mb << 20, tmp)
        current = Path(source)
        first = first_pass(parts[0][0]) if parts and parts[0] else None
        if first is not None:
            for table in _batches(current, batch_rows):  # the chain starts with a first-pass cleaner
                first.observe(table)
            first.freeze()
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = None if last else first_pass(parts[index + 1][0])  # each later part starts with one
            out_path = Path(target) if last else Path(tmp) / f"part-{index}.parquet"
            with _ParquetAppender(out_path) as out:
                for number, (rows_in, result) in enumerate(run_chain_stream(_batches(current, batch_rows), part, ctx)):
                    if index == 0:
                        totals["rows_in"] += rows_in
                        totals["batches"] += 1
                    totals["dropped"] += int((result.ledger["action"] == "dropped").sum())
                    if last:
                        totals["rows_out"] += result.table.height
                    if following is not None:
                        following.observe(result.table)
                    out.write(schema.conform(result.table))
                    ledger_out.write(result.ledger)
                    if on_batch is not None:
                        on_batch({"pass": index, "batch": number, "rows": rows_in,
                                  "seconds": round(sum(result.seconds.values()), 3)})
                    del result
                    _release_arrow_memory()
            if following is not None:
                following.freeze()
            if index > 0:
                current.unlink()  # the previous temporary part is no longer needed
            current = out_path
        if not Path(target).exists():  # an empty source: still write empty outputs
            schema.empty_table().write_parquet(target)
    if not Path(ledger_path).exists():
        empty_ledger().write_parquet(ledger_path)
    return totals


def _start_batches(start: Callable[..., None], budget_bytes: int, spill_dir: str) -> None:
    """A cleaner's ``start_batches()``, with the memory budget and spill folder when it takes them."""
    import inspect

    wanted = inspect.signature(start).parameters
    start(**{k: v for k, v in (("budget_bytes", budget_bytes), ("spill_dir", spill_dir)) if k in wanted})


def _release_arrow_memory() -> None:
    """Give pyarrow's freed pool memory back to the system after each batch (it keeps it otherwise)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _batches(path: Path, batch_rows: int):
    """Conformed polars tables of at most ``batch_rows`` rows, read as Parquet record batches.

    ``pre_buffer=False`` and a bounded read buffer: with pre-buffering, pyarrow
    keeps read-ahead column chunks allocated and memory grows batch after batch.
    """
    import pyarrow.parquet as pq

    with pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20) as file:
        for batch in file.iter_batches(batch_size=batch_rows):
            table = schema.conform(pl.from_arrow(batch))
            del batch
            yield table


class _ParquetAppender:
    """Appends polars frames to one Parquet file (a row group per frame); creates it on the first write."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.writer: Any = None  # a pyarrow ParquetWriter once the first frame arrives

    def write(self, frame: pl.DataFrame) -> None:
        import pyarrow.parquet as pq

        arrow = frame.to_arrow()
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, arrow.schema)
        self.writer.write_table(arrow)

    def __enter__(self) -> _ParquetAppender:
        return self

    def __exit__(self, *exc) -> None:
        if self.writer is not None:
            self.writer.close()
