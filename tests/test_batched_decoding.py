"""Unpadded prefill, preallocated cache and grouped attention give what the plain paths give."""

from __future__ import annotations

import pytest
import torch

from workbench.lm import batched_decoding
from workbench.lm.batched_decoding import grouped_sdpa, prefilled_cache
from workbench.lm.generation import DecodeSettings, LocalChatModel


class Attention(torch.nn.Module):
    num_key_value_groups = 3


@pytest.mark.parametrize("rows", [1, 5])
def test_grouped_sdpa_equals_repeating_the_key_value_heads(rows):
    from transformers.integrations.sdpa_attention import repeat_kv

    torch.manual_seed(0)
    query, key, value = torch.randn(2, 6, rows, 8), torch.randn(2, 2, 7, 8), torch.randn(2, 2, 7, 8)
    mask = torch.ones(2, 1, rows, 7, dtype=torch.bool)
    mask[0, :, :, :3] = False  # left padding of the first row
    mask[:, :, :, -rows:] &= torch.ones(rows, rows, dtype=torch.bool).tril()  # causal among the new rows
    expected = torch.nn.functional.scaled_dot_product_attention(query, repeat_kv(key, 3), repeat_kv(value, 3),
                                                                attn_mask=mask).transpose(1, 2)
    got, _ = grouped_sdpa(Attention().eval(), query, key, value, mask)
    assert got.shape == expected.shape == (2, rows, 6, 8)
    torch.testing.assert_close(got, expected)


def test_preallocated_layer_grows_past_its_reserve():
    layer = batched_decoding._preallocated_layer_class()(torch.zeros(1, 2, 4, 3), torch.zeros(1, 2, 4, 3), 1)
    steps = [torch.full((1, 2, 1, 3), float(i)) for i in range(1, 7)]  # 1 + 6 tokens into room for 4
    for step in steps:
        keys, values = layer.update(step, -step)
    assert layer.get_seq_length() == 7 and keys.shape == (1, 2, 7, 3)
    assert keys[0, 0, :, 0].tolist() == [0, 1, 2, 3, 4, 5, 6] and values[0, 1, 6, 2] == -6


def test_prefilled_cache_decodes_the_logits_of_each_prompt_alone(gqa_model_dir):
    model = LocalChatModel(str(gqa_model_dir), device="cpu")
    lm, tok = model._model()
    prompts = [list(range(100, 100 + n)) for n in (9, 5, 2, 7)]
    greedy = {"max_new_tokens": 3, "do_sample": False, "top_k": None, "top_p": None, "temperature": None,
              "output_logits": True, "return_dict_in_generate": True, "pad_token_id": tok.pad_token_id}
    with torch.inference_mode():
        batch = tok.pad({"input_ids": prompts}, padding=True, return_tensors="pt")
        merged = lm.generate(**batch, past_key_values=prefilled_cache(lm, prompts, 3), **greedy)
        for row, prompt in enumerate(prompts):
            alone = lm.generate(input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                                **greedy)
            for step, logits in enumerate(alone.logits):
                torch.testing.assert_close(merged.logits[step][row], logits[0], atol=1e-4, rtol=1e-4)


def test_batched_chat_answers_as_one_at_a_time_does(varied_model_dir, monkeypatch):
    model = LocalChatModel(str(varied_model_dir), device="cpu")
    conversations = [[{"role": "user", "content": "word " * n}] for n in (1, 12, 3, 30, 7)]
    conversations[1] = [{"role": "system", "content": "Be brief."}, *conversations[1]]
    settings = {"max_new_tokens": 12}
    alone = model.chat(conversations, DecodeSettings(**settings, batch_size=1))
    used = []
    monkeypatch.setattr("workbench.lm.batched_decoding.prefilled_cache",
                        lambda *a, **k: used.append(1) or prefilled_cache(*a, **k))
    together = model.chat(conversations, DecodeSettings(**settings, batch_size=4))
    assert used == [1]  # batches of 4 and 1: the four share the prefilled cache, the one left takes the plain path
    assert [g.text for g in together] == [g.text for g in alone]
    assert len({g.text for g in alone}) == len(alone) and all(g.text for g in alone)  # real, distinct answers
    assert all(g.new_tokens == 12 for g in alone)  # random weights: full-length answers, no early stop to hide behind


def test_generate_bench_reports_both_modes(gqa_model_dir, sample_dir):
    import argparse

    from workbench.bench import generate as bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    report = bench.run(parser.parse_args(["--model", str(gqa_model_dir), "--data", str(sample_dir / "heldout.jsonl"),
                                          "--prompts", "6", "--batch-size", "4", "--max-new-tokens", "5"]))
    assert report["outputs_identical"] is True and report["mismatched_prompts"] == []
    assert report["sequential_tokens"] == report["batched_tokens"] == 30  # random weights never stop early
    assert report["speedup"] == pytest.approx(report["sequential_seconds"] / report["batched_seconds"], rel=0.02, abs=0.006)  # both rounded (the speedup to 2 decimals)
    assert report["sequential_tokens_per_second"] > 0 and report["batched_tokens_per_second"] > 0


def test_an_adapter_folder_decodes_batched_as_one_at_a_time(gqa_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(1)
    tuned = get_peft_model(AutoModelForCausalLM.from_pretrained(gqa_model_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    tuned.save_pretrained(tmp_path / "adapter")
    AutoTokenizer.from_pretrained(gqa_model_dir).save_pretrained(tmp_path / "adapter")
    model = LocalChatModel(str(tmp_path / "adapter"), device="cpu")
    assert hasattr(model._model()[0], "get_base_model")  # kept as an adapter, not merged
    conversations = [[{"role": "user", "content": "order " * n}] for n in (2, 9, 25)]
    alone = model.chat(conversations, DecodeSettings(max_new_tokens=8, batch_size=1))
    together = model.chat(conversations, DecodeSettings(max_new_tokens=8, batch_size=3))
    assert [g.text for g in together] == [g.text for g in alone]
    base = LocalChatModel(str(gqa_model_dir), device="cpu").chat(conversations, DecodeSettings(max_new_tokens=8))
    assert [g.text for g in base] != [g.text for g in alone]  # the adapter is in effect


def test_sliding_window_models_keep_the_padded_prefill():
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, sliding_window=4)
    model = MistralForCausalLM(config).eval()
    with torch.inference_mode():
        assert prefilled_cache(model, [list(range(10, 20)), [5, 6, 7]], 4) is None


def test_answers_stop_at_the_templates_end_of_turn_even_when_eos_is_another_token():
    from transformers import AutoTokenizer, GenerationConfig

    from workbench.lm.embedded import smollm2_dir
    from workbench.lm.generation import stop_token_ids

    tok = AutoTokenizer.from_pretrained(smollm2_dir())
    im_end, endoftext = tok.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    assert stop_token_ids(tok) == [im_end]  # SmolLM2 declares its end of turn as EOS
    tok.eos_token = "<|endoftext|>"  # a model whose EOS is not the end of a chat turn (as Llama 3's is not)
    assert stop_token_ids(tok, GenerationConfig(eos_token_id=[endoftext, 7])) == [endoftext, 7, im_end]
    tok.chat_template = None  # a base model without a template: its EOS only
    assert stop_token_ids(tok) == [endoftext]


def greedy_ids(model: LocalChatModel, conversation, new_tokens: int) -> list[int]:
    """The answer tokens of one conversation, decoded alone (with a mask, as ``chat`` does) and without a stop token."""
    lm, tok = model._model()
    prompt = model.prompt_ids(conversation)
    with torch.inference_mode():
        out = lm.generate(input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                          max_new_tokens=new_tokens, do_sample=False, top_k=None, top_p=None, temperature=None,
                          eos_token_id=None, pad_token_id=tok.pad_token_id)
    return out[0, len(prompt):].tolist()


def test_each_answer_stops_at_its_own_stop_token_in_a_batch_as_alone(varied_model_dir, monkeypatch):
    model = LocalChatModel(str(varied_model_dir), device="cpu")
    conversations = [[{"role": "user", "content": "word " * n}] for n in (2, 9, 4, 15)]
    first, third = greedy_ids(model, conversations[0], 12), greedy_ids(model, conversations[2], 12)
    stops = [first[3], third[6]]  # tokens the model emits: one row should stop after 3 tokens, another after 6
    assert stops[0] not in first[:3] and stops[1] not in third[:6] and stops[0] not in third[:6]
    monkeypatch.setattr(LocalChatModel, "stop_ids", lambda self: stops)
    alone = model.chat(conversations, DecodeSettings(max_new_tokens=12, batch_size=1))
    together = model.chat(conversations, DecodeSettings(max_new_tokens=12, batch_size=4))
    assert [(g.text, g.new_tokens, g.hit_max_new_tokens) for g in together] == \
           [(g.text, g.new_tokens, g.hit_max_new_tokens) for g in alone]
    assert (together[0].new_tokens, together[2].new_tokens) == (3, 6) and together[0].text
    assert all(g.hit_max_new_tokens == (g.new_tokens == 12) for g in together)


def test_the_batch_ends_when_every_answer_has_stopped(varied_model_dir, monkeypatch):
    model = LocalChatModel(str(varied_model_dir), device="cpu")
    lm, _ = model._model()
    conversations = [[{"role": "user", "content": "word " * n}] for n in (3, 8, 5)]
    stops = [greedy_ids(model, c, 2)[1] for c in conversations]  # every answer's second token ends it
    monkeypatch.setattr(LocalChatModel, "stop_ids", lambda self: stops)
    calls = []
    handle = lm.register_forward_hook(lambda *args: calls.append(1))
    try:
        stopped = model.chat(conversations, DecodeSettings(max_new_tokens=40, batch_size=3))
    finally:
        handle.remove()
    assert all(g.new_tokens <= 1 and not g.hit_max_new_tokens for g in stopped)
    assert len(calls) <= 3 + 2  # three unpadded prefills and at most two decode steps, not forty
