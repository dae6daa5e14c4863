"""The curation benchmark's input written part by part: copies come from a bounded window of earlier rows."""

from __future__ import annotations

import random

import polars as pl
import pyarrow.parquet as pq

from workbench.plugins.cleaners.synthetic import _conversations, synthetic_table, write_synthetic_parquet


def test_synthetic_parquet_is_written_in_parts(tmp_path):
    path = tmp_path / "synthetic.parquet"
    write_synthetic_parquet(path, 2500, seed=3, part_rows=400, window=200)
    assert pq.ParquetFile(path).metadata.num_row_groups == 7
    table = pl.read_parquet(path)
    assert table["id"].to_list() == [f"r{i}" for i in range(2500)]
    assert 0.03 < table["messages"].list.first().struct.field("content").str.starts_with("  ").mean() < 0.1


def test_copies_come_from_the_window_and_the_whole_table_keeps_its_rows():
    sources = [(i, src) for i, _, src, _ in _conversations(5000, random.Random(1), window=300) if src is not None]
    assert 600 < len(sources) < 1000 and max(i - src for i, src in sources) <= 2 * 300
    assert max(i - src for i, src in sources if i > 1000) > 300  # and not only from the last window rows
    every = [(i, src) for i, _, src, _ in _conversations(5000, random.Random(1)) if src is not None]
    assert max(i - src for i, src in every) > 2 * 300  # without a window: any earlier row
    table, family = synthetic_table(300, seed=1)
    assert table.height == 300 and len(family) == 300 and max(family) >= 0
