"""Semantic deduplication with the embedded MiniLM sentence encoder.

Catches paraphrases MinHash cannot (different words, same meaning). Encoding
costs about a millisecond per text on CPU, so it is optional and not in the
default chain. Rows are compared in blocks against the rows kept so far; a row
whose cosine similarity to a kept row reaches the threshold is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
from pydantic import Field

from workbench.components import Cleaner
from workbench.context import StepContext
from workbench.ledger import Ledger, StepResult

from .dedup import DedupOn, DedupTextOptions, _json_strings, compared_text
from .turns import ledger_entries

if TYPE_CHECKING:
    import numpy as np


class SemanticDedupOptions(DedupTextOptions):
    on: DedupOn = Field(default="user", description="Compare whole conversations, user turns only, assistant turns only, or one column")
    threshold: float = Field(default=0.95, gt=0, le=1, description="Cosine similarity at or above which rows are duplicates")
    block: int = Field(default=2048, ge=64, description="Rows compared at once (memory: block x kept rows floats)")


class SemanticDedup(Cleaner):
    name = "semantic-dedup"
    description = "Drop rows whose MiniLM embedding is within a cosine threshold of an earlier kept row"
    Options = SemanticDedupOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        import numpy as np

        from workbench.lm.embedded import sentence_encoder

        o = self.options
        texts = compared_text(table, o.on, o.column).to_list()
        emb = np.asarray(sentence_encoder().encode(texts), dtype=np.float32) if texts else np.zeros((0, 1), np.float32)
        dup_of, sim = greedy_duplicates(emb, o.threshold, o.block)
        ids = table.get_column("id").to_numpy()
        drop = dup_of >= 0
        annotated = table.with_columns(pl.Series("__of", np.where(drop, ids[np.maximum(dup_of, 0)], None).tolist(), dtype=pl.Utf8),
                                       pl.Series("__sim", np.round(sim, 3)))
        detail = pl.format('{{"duplicate_of":{},"cosine":{}}}', pl.col("__of").map_batches(_json_strings, return_dtype=pl.Utf8), pl.col("__sim"))
        ledger = Ledger(self.name)
        ledger.extend(ledger_entries(annotated, pl.Series(drop), "dropped", "semantic duplicate", detail))
        return StepResult(table.filter(pl.Series(~drop)), ledger.frame(), stats={"dropped": int(drop.sum())})


def greedy_duplicates(emb: np.ndarray, threshold: float, block: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the earlier kept row it duplicates (-1 if none) and the cosine to it."""
    import numpy as np

    n = emb.shape[0]
    dup_of = np.full(n, -1, dtype=np.int64)
    best = np.zeros(n, dtype=np.float32)
    kept: list[int] = []
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        if kept:
            sims = emb[rows] @ emb[kept].T
            arg = sims.argmax(axis=1)
            hit = sims[np.arange(len(rows)), arg] >= threshold
            dup_of[rows[hit]] = np.asarray(kept)[arg[hit]]
            best[rows[hit]] = sims[np.arange(len(rows)), arg][hit]
        block_kept: list[int] = []
        for r in rows[dup_of[rows] < 0]:  # within the block, in table order
            if block_kept:
                s = emb[block_kept] @ emb[r]
                j = int(s.argmax())
                if s[j] >= threshold:
                    dup_of[r], best[r] = block_kept[j], s[j]
                    continue
            block_kept.append(int(r))
        kept.extend(block_kept)
    return dup_of, best
