"""Back-translation's real path: two local seq2seq folders (tiny Marian models built from a config)."""

from __future__ import annotations

import polars as pl
import pytest

from workbench import schema
from workbench.context import scratch_context
from workbench.ledger import balance_problem
from workbench.plugins.augmenters.backtranslate import BackTranslate

USERS = ["Where is my order NW-12345?", "My tent arrived with a broken pole.", "Can I return the jacket?"]


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory):
    """A tiny MarianMT (random weights) with SmolLM2's real tokenizer, saved like a downloaded model."""
    import torch
    from transformers import AutoTokenizer, MarianConfig, MarianMTModel

    from workbench.lm.embedded import smollm2_dir

    folder = tmp_path_factory.mktemp("marian") / "tiny-marian"
    tok = AutoTokenizer.from_pretrained(smollm2_dir())
    config = MarianConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                          max_position_embeddings=128, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                          decoder_start_token_id=tok.pad_token_id)
    with torch.random.fork_rng():  # the same weights whatever ran before in this process
        torch.manual_seed(0)
        model = MarianMTModel(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_round_trip_through_local_models_gives_variants_or_recorded_rejections(marian_dir, tmp_path):
    table = schema.from_rows({"id": f"r{i}", "split": "train", "messages": [
        {"role": "user", "content": u}, {"role": "assistant", "content": "Thanks for contacting Northwind!"}]}
        for i, u in enumerate(USERS))
    component = BackTranslate({"forward_model": str(marian_dir), "backward_model": str(marian_dir),
                               "min_similarity": 0, "max_new_tokens": 12})
    result = component.run(table, scratch_context(tmp_path, seed=3))
    assert balance_problem(table.height, result) is None
    counts = result.counts()
    assert counts["added"] + counts["rejected"] == len(USERS)  # one candidate per user turn, each accounted for
    assert counts["added"] > 0  # random weights still write text that differs from the original
    variants = result.table.filter(pl.col("id") != pl.col("source_id"))
    assert variants.height == counts["added"]
    for row in variants.to_dicts():
        assert row["origin"] == "backtranslate" and row["source_id"] in {f"r{i}" for i in range(len(USERS))}
        assert row["messages"][1]["content"] == "Thanks for contacting Northwind!"  # answers untouched
        assert row["messages"][0]["content"] not in USERS
    again = component.run(table, scratch_context(tmp_path / "again", seed=3))
    assert again.table.equals(result.table)  # seeded sampling: the same variants
