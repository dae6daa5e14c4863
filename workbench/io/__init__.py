"""Loading and saving data files in every registered format.

- :func:`load_table` reads a file into the canonical table (see
  :mod:`workbench.schema`), quarantining invalid records with their reasons;
- :func:`write_table` writes the table in a format chosen by name or extension.

Formats are plugin components (:class:`workbench.components.Reader` /
``Writer``); the built-in ones live in ``plugins/formats``. See
``docs/formats.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.io.loader import LoadResult, Quarantined, TableStream, load_table

if TYPE_CHECKING:
    import polars as pl

__all__ = ["LoadResult", "Quarantined", "TableStream", "load_table", "write_frames", "write_table"]


def write_table(table: pl.DataFrame, path: str | Path, format: str | None = None,
                options: dict[str, Any] | None = None) -> str:
    """Write ``table`` atomically to ``path`` with the writer named ``format`` (default: from the extension).

    Returns the name of the writer used.
    """
    return write_frames([table], path, format, options)


def write_frames(frames: Iterable[pl.DataFrame], path: str | Path, format: str | None = None,
                 options: dict[str, Any] | None = None) -> str:
    """Write a table that arrives in parts, atomically; one part at a time when the writer has ``write_frames``.

    Writers without it (CSV, whose header depends on every row) get the parts joined into one table.
    """
    import polars as pl

    from workbench import schema
    from workbench.io.choose import writer_for

    path = Path(path)
    writer = writer_for(path, format, options)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")  # same suffix: writers look at it
    conformed = (schema.conform(frame) for frame in frames)
    try:
        if hasattr(writer, "write_frames"):
            writer.write_frames(conformed, str(tmp))
        else:
            parts = list(conformed)
            writer.write(pl.concat(parts, how="diagonal_relaxed") if parts else schema.empty_table(), str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return writer.name
