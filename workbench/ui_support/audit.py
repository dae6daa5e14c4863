"""The data audit on the Data page: the ``audit`` cleaner run on the opened table, shown as the report shows it.

The page draws the blocks of the report's "Data audit" section
(:func:`workbench.report.bias.audit_section`), so page and report never
disagree. Text that comes from the data (labels, matched words, flag
sentences) is escaped for Markdown; tables become data frames, which
Streamlit shows as plain cells, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.ui_support.diffs import escape


@dataclass
class Block:
    """One thing the page draws: a ``text`` or ``warning`` (escaped Markdown) or a ``table``."""

    kind: str
    text: str = ""
    table: pl.DataFrame | None = None


def audit_table(path: str | Path, min_label_share: float, host: Any = None, ctx: Any = None) -> dict[str, Any]:
    """The registered ``audit`` cleaner's findings on a parquet table (nothing is written; a UI task's ``ctx``
    gets the progress and can cancel)."""
    from workbench.runtime.discovery import get_host

    auditor: Any = (host or get_host()).registry.get("cleaner", "audit")({"min_label_share": min_label_share})
    return auditor.audit(pl.read_parquet(path), ctx=ctx)


def blocks(audit: dict[str, Any]) -> list[Block]:
    """The report's audit section as page blocks: flags as warnings, then the sentences and tables in order."""
    from workbench.report.bias import audit_section
    from workbench.report.document import P, Table

    section = audit_section(audit)
    out = []
    for b in section.blocks if section else []:
        if isinstance(b, P):
            out.append(Block("warning" if b.tone == "warn" else "text", text=escape(b.text)))
        elif isinstance(b, Table):
            out.append(Block("table", table=pl.DataFrame(b.rows, schema=b.headers, orient="row", strict=False)))
        else:
            raise TypeError(f"the audit section has a {type(b).__name__} block the Data page cannot show")
    return out
