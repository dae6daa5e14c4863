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

    from workbench.lm.embedded import smollm2_dir

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


def tiny_gguf(folder: str | Path, **tiny_options: int) -> Path:
    """The tiny Llama model of :func:`tiny_causal_lm` written as ``folder/tiny.gguf`` (fp32, SmolLM2's tokenizer).

    Written the way llama.cpp's converter writes Llama models (its tensor
    names, query/key rows permuted for its rotary layout), so that loading it
    through transformers' GGUF reader gives back the same model.
    """
    import json

    import gguf
    import numpy as np
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    target = folder / "tiny.gguf"
    if target.exists():
        return target
    source = tiny_causal_lm(folder / "hf", **tiny_options)
    model = AutoModelForCausalLM.from_pretrained(source)
    cfg = model.config
    weights = {k: v.numpy().astype(np.float32) for k, v in model.state_dict().items()}
    tokenizer = json.loads((source / "tokenizer.json").read_text())
    special = {t["id"]: t["content"] for t in tokenizer["added_tokens"]}
    tokens = {**{i: t for t, i in tokenizer["model"]["vocab"].items()}, **special}
    tok = AutoTokenizer.from_pretrained(source)

    writer = gguf.GGUFWriter(str(target), "llama")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_rope_freq_base(cfg.rope_theta)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([tokens[i] for i in range(len(tokens))])
    writer.add_token_types([3 if i in special else 1 for i in range(len(tokens))])
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]])
    writer.add_bos_token_id(tok.bos_token_id)
    writer.add_eos_token_id(tok.eos_token_id)
    writer.add_pad_token_id(tok.pad_token_id)
    writer.add_chat_template(tok.chat_template)

    def rotary_rows(x: np.ndarray, heads: int) -> np.ndarray:
        return x.reshape(heads, 2, x.shape[0] // heads // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)

    writer.add_tensor("token_embd.weight", weights["model.embed_tokens.weight"])
    writer.add_tensor("output_norm.weight", weights["model.norm.weight"])
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    for layer in range(cfg.num_hidden_layers):
        for hf_name, gguf_name in names.items():
            x = weights[f"model.layers.{layer}.{hf_name}.weight"]
            if gguf_name in ("attn_q", "attn_k"):
                x = rotary_rows(x, cfg.num_attention_heads if gguf_name == "attn_q" else cfg.num_key_value_heads)
            writer.add_tensor(f"blk.{layer}.{gguf_name}.weight", x)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target
