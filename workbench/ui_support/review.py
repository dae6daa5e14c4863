"""Accept or reject generated rows (augmentation variants, scenarios) and save the curated dataset.

Candidates come from :func:`workbench.ui_support.preview.run` on a sample;
decisions are ``row id -> "accept" | "reject"`` (missing = pending). The
curated dataset (the current rows plus the accepted candidates) is saved as
parquet and becomes the pipeline's data source, so the run file that follows
still replays with ``workbench run``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from workbench import schema, store
from workbench.ui_support.pipeline import Pipeline
from workbench.ui_support.preview import Preview


def candidates(previews: list[Preview]) -> pl.DataFrame:
    """Rows the previews generated (not in their input), in the canonical schema."""
    parts = [p.after.filter(~pl.col("id").is_in(p.before["id"].to_list())) for p in previews]
    return pl.concat([schema.conform(x) for x in parts]) if parts else schema.empty_table()


def rates(decisions: dict[str, str], total: int, filtered_out: int = 0) -> dict[str, float | int]:
    """Accepted, rejected and pending counts, the acceptance rate of reviewed rows, and the filters' rejections."""
    accepted = sum(v == "accept" for v in decisions.values())
    rejected = sum(v == "reject" for v in decisions.values())
    reviewed = accepted + rejected
    return {"accepted": accepted, "rejected": rejected, "pending": total - reviewed,
            "acceptance": round(accepted / reviewed, 3) if reviewed else 0.0, "filtered_out": filtered_out}


def curated(table: pl.DataFrame, generated: pl.DataFrame, decisions: dict[str, str]) -> pl.DataFrame:
    """The table plus the accepted generated rows."""
    keep = [i for i, d in decisions.items() if d == "accept"]
    return pl.concat([schema.conform(table), schema.conform(generated.filter(pl.col("id").is_in(keep)))])


def save_curated(p: Pipeline, table: pl.DataFrame, runs_dir: str | Path) -> Pipeline:
    """Save ``table`` under ``<runs>/_curated/`` and return a pipeline that loads it, keeping later stages."""
    path = (Path(runs_dir) / "_curated" / f"{p.name}.parquet").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    store.write_parquet(path, table)
    later = p.stage("split", "train", "evaluate", "report")
    note = f"curated from {p.name}: {table.height} rows after review"
    return Pipeline(p.name, p.seed, note, [{"kind": "load", "options": {"path": str(path), "format": "parquet"}},
                                           *later], p.base_dir)
