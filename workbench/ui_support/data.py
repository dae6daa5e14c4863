"""Opening data in the UI: uploads, files on disk and earlier runs' step outputs.

An uploaded or opened file is read once with :func:`workbench.io.load_table`
(the same reader and validation as ``workbench validate`` and the ``load``
step); the valid rows are written to a parquet file the pages page through
lazily, and the validation report keeps every problem by line with its hint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.runtime import store


def uploads_dir(runs_dir: str | Path) -> Path:
    """Where uploaded files are kept (beside the run folders, so run files can name them)."""
    return Path(runs_dir) / "_uploads"


def save_upload(name: str, data: bytes, runs_dir: str | Path) -> Path:
    """Store an uploaded file under its own name (plus a content hash, so re-uploads never clash)."""
    digest = hashlib.sha256(data).hexdigest()[:10]
    stem, suffix = Path(name).stem, "".join(Path(name).suffixes) or ".jsonl"
    path = uploads_dir(runs_dir) / f"{stem}-{digest}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path.resolve()


@dataclass
class Opened:
    """A data file read for browsing: its rows as parquet plus the validation report."""

    source: Path
    table_path: Path
    report: dict[str, Any]

    def problems(self) -> pl.DataFrame:
        """Validation problems by line: line, field, code, severity, message, hint."""
        cols = {"line": pl.Int64, "field": pl.Utf8, "code": pl.Utf8, "severity": pl.Utf8, "message": pl.Utf8,
                "hint": pl.Utf8}
        rows = [{c: p.get(c) for c in cols} for p in self.report.get("problems", [])]
        return pl.DataFrame(rows, schema=cols).sort("line")


def open_file(path: str | Path, runs_dir: str | Path, format: str | None = None) -> Opened:
    """Read and validate a data file in any supported format; a WorkbenchError says what is wrong."""
    from workbench.io import load_table
    from workbench.io.validate import report

    path = Path(path).resolve()
    result = load_table(path, format=format)
    digest = hashlib.sha256(f"{path}:{path.stat().st_mtime_ns}:{format}".encode()).hexdigest()[:12]
    table_path = uploads_dir(runs_dir) / ".tables" / f"{path.stem}-{digest}.parquet"
    table_path.parent.mkdir(parents=True, exist_ok=True)
    store.write_parquet(table_path, result.table)
    return Opened(path, table_path, report(result, path))


def step_output(step_folder: str | Path) -> Path:
    """The parquet output of a finished step folder (a WorkbenchError when missing)."""
    from workbench.errors import WorkbenchError

    path = Path(step_folder) / "output.parquet"
    if not path.exists():
        raise WorkbenchError(f"{step_folder} has no output.parquet", hint="pick a finished step of a run")
    return path


def restore_rows(run_dir: str | Path, row_ids: list[str]) -> Path:
    """Write rows dropped in a run (by id, as they were) to ``restored.jsonl`` in the run folder.

    A ``load`` step with ``append = true`` on that file puts them back in the
    next run, which is how the run file records a restore.
    """
    from workbench import schema
    from workbench.io import write_table
    from workbench.ledger import restore

    ledger = store.run_ledger(Path(run_dir))
    rows = restore(schema.empty_table(), ledger.filter(pl.col("action") == "dropped"), row_ids)
    path = Path(run_dir).resolve() / "restored.jsonl"
    write_table(rows, path, "workbench-jsonl")
    return path
