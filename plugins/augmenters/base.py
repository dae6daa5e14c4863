"""What every built-in augmenter shares: row selection, lineage, filters, ledger.

The options, row selection and variant rows come from :mod:`workbench.augmentation`
(also what third-party augmenters use).

A family only says how to rewrite a batch of turn texts (``propose``); this
base picks the rows and roles to augment, builds one candidate row per
variant, rejects candidates that are identical to the original, duplicate
another variant, lost a protected token, or drifted in meaning (MiniLM
cosine below ``min_similarity``), and records every addition and rejection
in the ledger.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl
from pydantic import Field

from workbench import schema
from workbench.augmentation import AugmentOptions, augment_selection, variant_row
from workbench.components import Augmenter
from workbench.context import StepContext
from workbench.ledger import Ledger, StepResult

from .protect import protected_altered

IDENTICAL = "identical to original"
DUPLICATE = "duplicate of another variant"
PROTECTED = "protected token altered"
TOO_FAR = "too far in meaning"


class TextAugmentOptions(AugmentOptions):
    """The shared augmenter options plus the meaning filter every built-in text augmenter applies."""

    min_similarity: float = Field(default=0.75, ge=0, le=1, description="Meaning filter: minimum MiniLM cosine "
                                                                        "between original and variant (0 = off)")
    encoder: str | None = Field(default=None, description="Sentence encoder folder for the meaning filter "
                                                          "(default: the embedded MiniLM)")


@dataclass
class Turn:
    row: int  # index into the selected rows
    message: int  # index into that row's messages
    text: str


class TextAugmenter(Augmenter):
    """Base of the built-in augmenters: subclasses implement ``propose``."""

    Options: ClassVar[type[TextAugmentOptions]] = TextAugmentOptions

    def propose(self, texts: list[str], seeds: list[str], variant: int, ctx: Any) -> list[str]:
        """Rewrite each text once; ``seeds[i]`` seeds text i, ``variant`` counts from 0."""
        raise NotImplementedError

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        o = self.options
        table = schema.conform(table)
        selected = table.filter(augment_selection(o))
        rows = selected.to_dicts()
        turns = [Turn(r, m, msg["content"]) for r, row in enumerate(rows) for m, msg in enumerate(row["messages"])
                 if msg["role"] in o.roles and (msg.get("content") or "").strip()]
        ledger = Ledger(self.name)
        candidates = []
        with ctx.progress(o.variants, f"augment {self.name}") as bar:
            for k in range(o.variants):
                if ctx.cancelled():
                    break
                seeds = [f"{ctx.seed}:{self.name}:{rows[t.row]['id']}:{t.message}:{k}" for t in turns]
                texts = self.propose([t.text for t in turns], seeds, k, ctx) if turns else []
                candidates += _assemble(rows, turns, texts, k)
                bar.update(1)
        kept, reasons = self._filter(candidates, ledger, ctx)
        new_rows = self._new_rows(kept, set(table["id"].to_list()), ctx, ledger)
        out = pl.concat([table, schema.from_rows(new_rows)], how="diagonal_relaxed") if new_rows else table
        stats = {"rows_selected": len(rows), "candidates": len(candidates), "added": len(new_rows),
                 "rejected_by_reason": dict(reasons),
                 "acceptance_rate": round(len(new_rows) / len(candidates), 4) if candidates else None}
        return StepResult(out, ledger.frame(), stats)

    def _filter(self, candidates: list[dict], ledger: Ledger, ctx: Any) -> tuple[list[dict], Counter]:
        o = self.options
        reasons: Counter = Counter()
        survivors, seen = [], set()
        for c in candidates:
            reason = detail = None
            if c["new"] == c["old"]:
                reason = IDENTICAL
            elif (c["source"]["id"], c["new"]) in seen:
                reason = DUPLICATE
            else:
                lost = protected_altered(c["old"], c["new"])
                if lost:
                    reason, detail = PROTECTED, {"tokens": lost}
            seen.add((c["source"]["id"], c["new"]))
            if reason:
                reasons[reason] += 1
                ledger.reject(c["source"]["id"], reason, detail={"variant": c["variant"] + 1, "text": c["new"], **(detail or {})})
            else:
                survivors.append(c)
        if not survivors or o.min_similarity <= 0:
            return survivors, reasons
        from workbench.lm.embedded import sentence_encoder

        encoder = sentence_encoder(str(ctx.resolve(o.encoder)) if o.encoder else None)
        old = encoder.encode([c["old"] for c in survivors])
        new = encoder.encode([c["new"] for c in survivors])
        kept = []
        for c, sim in zip(survivors, (old * new).sum(axis=1).tolist()):
            c["similarity"] = round(float(sim), 4)
            if sim < o.min_similarity:
                reasons[TOO_FAR] += 1
                ledger.reject(c["source"]["id"], TOO_FAR, detail={"variant": c["variant"] + 1, "text": c["new"],
                                                                   "similarity": c["similarity"],
                                                                   "min_similarity": o.min_similarity})
            else:
                kept.append(c)
        return kept, reasons

    def _new_rows(self, kept: list[dict], taken: set[str], ctx: Any, ledger: Ledger) -> list[dict]:
        out = []
        for c in kept:
            row = variant_row(c["source"], c["messages"], augmenter=self.name, version=self.version, seed=ctx.seed,
                              variant=c["variant"] + 1, taken=taken, similarity=c.get("similarity"))
            out.append(row)
            ledger.add(row["id"], f"{self.name} variant of {c['source']['id']}",
                       detail={"similarity": c.get("similarity")})
        return out


def _assemble(rows: list[dict], turns: list[Turn], texts: list[str], k: int) -> list[dict]:
    """One candidate per row: its messages with the rewritten turns."""
    by_row: dict[int, list[tuple[Turn, str]]] = {}
    for t, new in zip(turns, texts):
        by_row.setdefault(t.row, []).append((t, new))
    out = []
    for r, changes in by_row.items():
        messages = [dict(m) for m in rows[r]["messages"]]
        for t, new in changes:
            messages[t.message]["content"] = new
        out.append({"source": rows[r], "variant": k, "messages": messages,
                    "old": "\n".join(t.text for t, _ in changes), "new": "\n".join(new for _, new in changes)})
    return out


def rng(seed: str) -> random.Random:
    """A private random generator for one text (string seeds are stable)."""
    return random.Random(seed)
