"""Run cleaning steps on Ray Data partitions (``workbench run --executor ray``).

The engine hands each ``clean`` step to :class:`RayExecutor`; every other
step runs in the driver as with the local executor. The table is cut into
partitions of ``partition_rows`` rows, each carrying its global source order
(``order``: the row's position in the step's input), and the cleaner decides
how it runs on them:

- a cleaner with ``row_wise = True`` (each row's outcome depends on that row
  only) runs unchanged on every partition (``map_batches``);
- a cleaner with ``run_partitioned(parts, ctx)`` (quality's global length
  statistics, exact and near dedup) composes the primitives of
  :class:`Partitions`: ``gather`` (a value per partition), ``shuffle`` (records
  grouped by key across partitions, a value per group) and ``map`` (the
  cleaner's rows and ledger per partition);
- any other cleaner runs in the driver on the whole table (its stats say so).

Partition outputs and ledgers come back in source order and are
concatenated; the accounting rule is checked per partition and on the
totals. ``ray`` is imported only here, inside functions.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from workbench.components import Cleaner
from workbench.context import StepContext
from workbench.errors import WorkbenchError
from workbench.ledger import StepResult, balance_problem

#: the column that carries each row's global source order through a partition
ORDER = "__order"


class Partitions:
    """A table cut into Ray Data blocks, each with its rows' global source order."""

    def __init__(self, table: pl.DataFrame, partition_rows: int, seed: int = 0) -> None:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        # tasks, not a pool of aggregator actors per shuffle: the records shuffled (hashes, band keys) are small
        context.shuffle_strategy = ray.data.context.ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
        self.height, self.seed = table.height, seed
        arrow = table.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(ORDER)).to_arrow(
            compat_level=pl.CompatLevel.oldest())
        blocks = [arrow.slice(start, partition_rows) for start in range(0, max(table.height, 1), partition_rows)]
        self.count = len(blocks)
        self.dataset = ray.data.from_arrow(blocks)

    def gather(self, fn: Callable[[pl.DataFrame, np.ndarray], Any]) -> list[Any]:
        """``fn(partition, order)`` on every partition (without the order column); results in source order."""
        def call(batch):
            table, order = _split(batch)
            return _pickled(int(order[0]) if len(order) else -1, fn(table, order))

        return _unpickled(self.dataset.map_batches(call, batch_size=None, batch_format="pyarrow"))

    def shuffle(self, emit: Callable[[pl.DataFrame, np.ndarray], pl.DataFrame], key: str,
                reduce: Callable[[pl.DataFrame], Any], groups: int | None = None) -> list[Any]:
        """Records ``emit(partition, order)`` from every partition, grouped by ``hash(key) % groups``
        across partitions (a hash shuffle), then ``reduce(records of one group)``; one result per group."""
        groups = groups or max(2, self.count)

        def records(batch):
            table, order = _split(batch)
            out = emit(table, order)
            out = out.with_columns((pl.col(key).hash(seed=3) % groups).cast(pl.Int64).alias("__group"))
            return out.to_arrow(compat_level=pl.CompatLevel.oldest())

        def reduced(batch):
            group = pl.from_arrow(batch)
            assert isinstance(group, pl.DataFrame)
            return _pickled(int(group["__group"][0]) if group.height else -1, reduce(group.drop("__group")))

        mapped = self.dataset.map_batches(records, batch_size=None, batch_format="pyarrow")
        return _unpickled(mapped.groupby("__group", num_partitions=groups).map_groups(reduced, batch_format="pyarrow"))

    def map(self, fn: Callable[[pl.DataFrame, np.ndarray, StepContext], StepResult], name: str) -> StepResult:
        """``fn(partition, order, ctx)`` on every partition: outputs and ledgers concatenated in source order,
        the accounting rule checked per partition (``name`` is the cleaner, for the error)."""
        seed = self.seed

        def part(table: pl.DataFrame, order: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any], str | None]:
            result = fn(table, order, worker_context(seed))
            problem = balance_problem(table.height, result)
            if problem:  # returned, not raised: Ray would wrap the error (the first in source order is raised)
                problem = f"in the partition starting at row {table['id'][0]!r}: {problem}"
            return result.table, result.ledger, result.stats, problem

        parts = self.gather(part)
        if not parts:
            raise WorkbenchError(f"cleaner {name!r}: the Ray executor got no partitions back")
        tables, ledgers, stats, problems = zip(*parts, strict=True)
        problem = next((p for p in problems if p), None)
        if problem:
            raise WorkbenchError(f"cleaner {name!r}: row accounting does not balance {problem}")
        return StepResult(pl.concat(tables, how="vertical_relaxed"), pl.concat(ledgers), stats=merged_stats(list(stats)))


def _split(batch) -> tuple[pl.DataFrame, np.ndarray]:
    from workbench import schema

    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    return schema.conform(frame.drop(ORDER)), frame[ORDER].to_numpy()


def _pickled(first: int, value: Any):
    import pyarrow as pa

    return pa.table({"first": pa.array([first], pa.int64()), "value": pa.array([pickle.dumps(value)], pa.large_binary())})


def _unpickled(dataset) -> list[Any]:
    rows = sorted(dataset.take_all(), key=lambda row: row["first"])
    return [pickle.loads(row["value"]) for row in rows]


def merged_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Partition stats added up: numbers summed, dicts merged key by key, other values taken from the first."""
    out: dict[str, Any] = {}
    for stats in parts:
        for key, value in stats.items():
            if key not in out:
                out[key] = value
            elif isinstance(value, bool) or not isinstance(value, int | float | dict):
                continue
            elif isinstance(value, dict):
                out[key] = merged_stats([out[key], value])
            else:
                out[key] = out[key] + value
    return out


class RayExecutor:
    """Runs cleaners on a Ray cluster: ``address`` of a running one, or a local one started on first use."""

    name = "ray"

    def __init__(self, address: str | None = None, partition_rows: int = 50_000) -> None:
        if partition_rows < 1:
            raise WorkbenchError(f"partition_rows must be at least 1, got {partition_rows}")
        self.address, self.partition_rows = address, partition_rows

    def connect(self) -> None:
        """Join the cluster at ``address`` (or start a local one) unless this process is already connected."""
        try:
            import ray
        except ImportError as exc:
            raise WorkbenchError("the Ray executor needs Ray, which is not installed",
                                 hint='pip install -c constraints.txt -e ".[ray]" (scripts/setup.sh does)') from exc
        if ray.is_initialized():
            return
        if self.address is None:
            patient_local_start()
        try:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise WorkbenchError(f"cannot connect to the Ray cluster at {self.address!r}: {exc}",
                                 hint="start one with `ray start --head` and pass its address (host:6379), "
                                      "or leave --address out for a local cluster") from exc

    def run(self, cleaner: Cleaner, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        """The cleaner's result on ``table``, computed on partitions when the cleaner allows it."""
        partitioned = getattr(cleaner, "run_partitioned", None)
        if table.height == 0 or not (getattr(cleaner, "row_wise", False) or partitioned):
            result = cleaner.run(table, ctx)
            how = "driver"
        else:
            self.connect()
            parts = Partitions(table, self.partition_rows, ctx.seed)
            if partitioned is not None:
                result = partitioned(parts, ctx)
            else:
                result = parts.map(lambda part, _order, worker_ctx: cleaner.run(part, worker_ctx), cleaner.name)
            how = f"{parts.count} partitions"
        result.stats = {**result.stats, "executor": {"name": self.name, "ran_on": how}}
        return result


def patient_local_start() -> None:
    """Let a local Ray cluster start on a busy machine: its raylet gives up when its agents take over
    about 15 s to come up (seen at load 10+ on 2 cores), so wait up to 5 minutes for them."""
    os.environ.setdefault("RAY_agent_register_timeout_ms", "300000")
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "300")


def worker_context(seed: int) -> StepContext:
    """A context for a cleaner running in a Ray worker (no run folder there: a fixed scratch folder)."""
    import tempfile
    from pathlib import Path

    return StepContext(step_dir=Path(tempfile.gettempdir()) / "workbench-ray", seed=seed)
