"""What every augmenter shares, built-in or third-party: which rows it may touch and how a variant looks.

``AugmentOptions`` is the documented options base (roles, variants, splits,
unsplit rows, originals only): subclass it to add your own options.
``augment_selection`` picks the rows those options allow and ``variant_row``
builds a new row with the lineage rules of docs/augmentation.md: id
``<source id>~<augmenter><n>``, ``source_id`` pointing at the original,
``origin`` naming the augmenter and ``meta`` recording augmenter, version,
seed and variant number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from workbench.components import Options

if TYPE_CHECKING:
    import polars as pl


class AugmentOptions(Options):
    roles: list[str] = Field(default=["user"], description="Roles whose turns are rewritten (assistant answers, "
                                                           "the training targets, stay untouched by default)")
    variants: int = Field(default=1, ge=1, le=20, description="Candidate variants per selected row")
    splits: list[str] = Field(default=["train"], description="Only rows in these splits are augmented")
    unsplit: bool = Field(default=True, description="Also augment rows without a split yet (a later group-aware "
                                                    "split keeps each variant with its original)")
    originals_only: bool = Field(default=True, description="Skip rows that are themselves variants (origin of "
                                                          "an augmenter), so augmenters in a row do not compound")


def augment_selection(options: AugmentOptions) -> pl.Expr:
    """The rows ``options`` allow an augmenter to rewrite (a polars filter expression)."""
    import polars as pl

    in_split = pl.col("split").is_in(options.splits)
    chosen = (in_split | pl.col("split").is_null()) if options.unsplit else in_split.fill_null(False)
    return chosen & (pl.col("id") == pl.col("source_id")) if options.originals_only else chosen


def variant_row(source: dict[str, Any], messages: list[dict[str, Any]], *, augmenter: str, version: str, seed: int,
                variant: int, taken: set[str], **meta: Any) -> dict[str, Any]:
    """A new canonical row derived from ``source`` (``variant`` counts from 1); its id is added to ``taken``."""
    from workbench import schema

    new_id = f"{source['id']}~{augmenter}{variant}"
    n = 1
    while new_id in taken:
        n += 1
        new_id = f"{source['id']}~{augmenter}{variant}.{n}"
    taken.add(new_id)
    row_meta = schema.with_meta(source.get("meta"), augmenter=augmenter, augmenter_version=version, seed=seed,
                                variant=variant, augmented_from=source["id"], **meta)
    return {**source, "id": new_id, "messages": messages, "source_id": source.get("source_id") or source["id"],
            "origin": augmenter, "meta": row_meta}
