"""A .gguf file is a model reference like any other: it loads through transformers, answers and trains."""

from __future__ import annotations

import pytest
import torch

from workbench.lm.models import load_causal_lm
from workbench.lm.tiny import tiny_gguf


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory):
    return tiny_gguf(tmp_path_factory.mktemp("gguf"), heads=4, kv_heads=2, seed=2)


def test_gguf_loads_as_the_model_it_was_written_from(gguf_file):
    model, tok = load_causal_lm(str(gguf_file), device="cpu")
    original, original_tok = load_causal_lm(str(gguf_file.parent / "hf"), device="cpu")
    text = "Where is my order #A1234?"
    ids = tok(text)["input_ids"]
    assert ids == original_tok(text)["input_ids"]
    assert (tok.eos_token, tok.pad_token) == (original_tok.eos_token, original_tok.pad_token)
    with torch.no_grad():
        torch.testing.assert_close(model(torch.tensor([ids])).logits, original(torch.tensor([ids])).logits)
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False) == \
        original_tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)


def test_gguf_model_trains_with_lora(gguf_file, tmp_path):
    from workbench.training.loop import TrainJob, train
    from workbench.training.options import CausalLMOptions

    rows = [{"id": f"r{i}", "messages": [{"role": "user", "content": f"Where is order {i}?"},
                                          {"role": "assistant", "content": f"Order {i} ships today."}]}
            for i in range(8)]
    opts = CausalLMOptions(model=str(gguf_file), method="lora", max_steps=2, batch_size=4, warmup_probe_steps=1)
    result = train(TrainJob(opts, rows, rows[:2], tmp_path / "run", log=lambda _m: None))
    assert result.stats["steps"] == 2 and result.stats["final_val_loss"] is not None
    assert (tmp_path / "run" / "model").is_dir()
