"""Tiny real models for fast tests and the local OpenAI-compatible server.

``tiny_causal_lm`` builds a Llama-architecture model from a config (random
weights) with SmolLM2's real tokenizer and chat template, saved as a normal
transformers folder; everything that loads a causal LM can load it.
"""

from __future__ import annotations

from pathlib import Path


def tiny_causal_lm(folder: str | Path, *, layers: int = 2, hidden: int = 64, heads: int = 4, kv_heads: int | None = None,
                   seed: int = 0) -> Path:
    """Create (once) and return a tiny Llama model folder at ``folder`` (``kv_heads`` < ``heads``: grouped-query attention)."""
    folder = Path(folder)
    if (folder / "config.json").exists():
        return folder
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from workbench.embedded import smollm2_dir

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir())
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads or heads, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "tokenizer.model").unlink(missing_ok=True)
    return folder
