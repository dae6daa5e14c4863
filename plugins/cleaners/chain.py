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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

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
    from workbench.plugins import get_registry

    registry = get_registry()
    return [registry.get("cleaner", name)(options) for name, options in spec]


@dataclass
class ChainResult:
    table: pl.DataFrame
    ledger: pl.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def run_chain(table: pl.DataFrame, cleaners: list[Cleaner], ctx: StepContext) -> ChainResult:
    """Run the cleaners in order; checks each step's row accounting."""
    ledgers, seconds, stats = [], {}, {}
    for cleaner in cleaners:
        started = time.perf_counter()
        result = cleaner.run(table, ctx)
        problem = balance_problem(table.height, result)
        if problem:
            raise WorkbenchError(f"cleaner {cleaner.name!r}: row accounting does not balance: {problem}")
        seconds[cleaner.name] = seconds.get(cleaner.name, 0.0) + time.perf_counter() - started
        stats[cleaner.name] = result.stats
        ledgers.append(result.ledger)
        table = result.table
    ledger = pl.concat(ledgers) if ledgers else empty_ledger()
    return ChainResult(table, ledger, seconds, stats)


def run_chain_batched(source: str | Path, target: str | Path, ledger_path: str | Path, *,
                      spec: ChainSpec = DEFAULT_CHAIN, batch_rows: int = 50_000,
                      ctx: StepContext | None = None) -> dict[str, Any]:
    """Clean a Parquet file batch by batch; dedup cleaners remember earlier batches."""
    import pyarrow.parquet as pq

    from workbench.context import scratch_context

    ctx = ctx or scratch_context()
    cleaners = build_chain(spec)
    for cleaner in cleaners:
        if hasattr(cleaner, "start_batches"):
            cleaner.start_batches()
    rows_in = rows_out = dropped = batches = 0
    out_writer = ledger_writer = None
    try:
        for batch in pq.ParquetFile(source).iter_batches(batch_size=batch_rows):
            table = schema.conform(pl.from_arrow(batch))
            result = run_chain(table, cleaners, ctx)
            rows_in, rows_out, batches = rows_in + table.height, rows_out + result.table.height, batches + 1
            dropped += int((result.ledger["action"] == "dropped").sum())
            out_arrow, ledger_arrow = schema.conform(result.table).to_arrow(), result.ledger.to_arrow()
            out_writer = out_writer or pq.ParquetWriter(target, out_arrow.schema)
            ledger_writer = ledger_writer or pq.ParquetWriter(ledger_path, ledger_arrow.schema)
            out_writer.write_table(out_arrow)
            ledger_writer.write_table(ledger_arrow)
    finally:
        for writer in (out_writer, ledger_writer):
            if writer is not None:
                writer.close()
    return {"rows_in": rows_in, "rows_out": rows_out, "dropped": dropped, "batches": batches}
