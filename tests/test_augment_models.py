"""Model-backed parts of augmentation: the MiniLM meaning filter and batched paraphrase."""

from __future__ import annotations

import polars as pl
import pytest

from workbench import schema
from workbench.context import scratch_context
from workbench.ledger import balance_problem
from workbench.plugins.augmenters import base
from workbench.plugins.augmenters.paraphrase import Paraphrase, clean


def table_of(*users: str) -> pl.DataFrame:
    return schema.from_rows({"id": f"r{i}", "split": "train", "messages": [
        {"role": "user", "content": u}, {"role": "assistant", "content": "Happy to help."}]} for i, u in enumerate(users))


def test_meaning_filter_rejects_drift_and_keeps_close_variants(tmp_path):
    class Rewriter(base.TextAugmenter):
        name = "rewriter"

        def propose(self, texts, seeds, variant, ctx):
            return ["Where is my parcel right now?" if "package" in t else "Bananas are yellow fruit." for t in texts]

    table = table_of("Where is my package right now?", "How do I reset my account password?")
    result = Rewriter({"min_similarity": 0.6}).run(table, scratch_context(tmp_path))
    assert balance_problem(table.height, result) is None
    added = result.table.filter(pl.col("origin") == "rewriter")
    assert added["source_id"].to_list() == ["r0"]
    rejected = result.ledger.filter(pl.col("action") == "rejected")
    assert rejected["reason"].to_list() == [base.TOO_FAR] and rejected["row_id"].to_list() == ["r1"]
    assert schema.meta_of(added.row(0, named=True))["similarity"] >= 0.6


@pytest.mark.slow
def test_paraphrase_generates_in_batches_with_a_local_model(tiny_model_dir, tmp_path):
    table = table_of("Where is my package?", "Can I return the tent?", "My zipper broke.")
    options = {"model": str(tiny_model_dir), "min_similarity": 0, "variants": 2,
               "decode": {"max_new_tokens": 8, "batch_size": 2, "temperature": 0.7}}
    result = Paraphrase(options).run(table, scratch_context(tmp_path, seed=1))
    assert balance_problem(table.height, result) is None
    assert result.stats["candidates"] == 6
    counts = result.counts()
    assert counts["added"] + counts["rejected"] == 6
    for row in result.table.filter(pl.col("origin") == "paraphrase").to_dicts():
        assert row["messages"][1]["content"] == "Happy to help."


def test_clean_takes_the_first_line_without_label_or_quotes():
    assert clean('Paraphrase: "Where is my parcel?"\nHope this helps') == "Where is my parcel?"
