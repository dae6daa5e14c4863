"""The embedded SmolLM2 trains with LoRA through the run step and answers afterwards."""

from __future__ import annotations

import math

import pytest

from workbench import schema
from workbench.context import scratch_context


@pytest.mark.slow
def test_smollm2_lora_trains_a_few_steps_and_answers(sample_dir, tmp_path):
    from workbench.lm.generation import DecodeSettings, chat_model
    from workbench.plugins.trainers.causal_lm import CausalLMTrainer
    from workbench.training.data import read_chat_jsonl

    rows, _ = read_chat_jsonl(sample_dir / "support.jsonl")
    table = schema.from_rows([{**r, "split": "train" if i < 6 else "validation"} for i, r in enumerate(rows[:8])])
    trainer = CausalLMTrainer({"max_steps": 2, "batch_size": 3, "warmup_probe_steps": 1, "warmup_steps": 0})
    result = trainer.run(table, scratch_context(tmp_path))
    stats = result.stats
    assert stats["steps"] == 2 and stats["saved_as"] == "merged"
    assert math.isfinite(stats["final_train_loss"]) and stats["final_val_loss"] < 5
    model = chat_model(str(tmp_path / "model"))
    answer = model.chat([rows[-1]["messages"][:2]], DecodeSettings(max_new_tokens=8))[0]
    assert answer.new_tokens > 0 and answer.text
