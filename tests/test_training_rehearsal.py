"""Rehearsal: the base model's own answers to general prompts, mixed into training against forgetting."""

from __future__ import annotations

import json
import re

import pytest

from workbench.evaluation.forgetting import load_probes
from workbench.training.rehearsal import FILE, how_many, load_prompts, rehearsal_rows


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_the_rehearsal_prompts_share_no_prompt_with_the_forgetting_probes():
    prompts = load_prompts()
    probes = {_words(p["prompt"]) for p in load_probes()}
    assert len(prompts) >= 100 and len({p["id"] for p in prompts}) == len(prompts)
    assert not [p["prompt"] for p in prompts if _words(p["prompt"]) in probes]
    assert {p["kind"] for p in prompts} >= {"knowledge", "arithmetic", "instruction", "reasoning", "language"}


def test_how_many_follows_the_share_within_what_is_packaged():
    assert how_many(0.1, 892, 102) == 90
    assert how_many(0.1, 5, 102) == 1  # a share of a small set still rehearses
    assert how_many(0.1, 10_000, 102) == 102
    assert how_many(0.0, 892, 102) == 0


def test_cut_answers_are_dropped_and_a_resumed_run_reads_the_rows_it_wrote(tmp_path, tiny_model_dir):
    logs: list[str] = []
    # a random tiny model never ends its answer: every one is cut at the budget, so none is trained on
    assert rehearsal_rows(str(tiny_model_dir), 0.5, 8, tmp_path, seed=1, log=logs.append) == []
    assert logs == ["rehearsal: 0 general prompts with the base model's answers mixed into training "
                    "(4 cut or empty answers dropped)"]
    saved = [{"id": "rehearsal:x",
              "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}]
    (tmp_path / FILE).write_text(json.dumps(saved[0]) + "\n")  # resume: the rows of the first attempt, no model loaded
    assert rehearsal_rows("no-such-model", 0.5, 8, tmp_path, seed=1) == saved


def test_answers_come_from_the_runs_folder_cache_and_a_smaller_set_rehearses_a_subset(tmp_path, tiny_model_dir):
    from workbench.evaluation.cache import GenerationCache

    cache = tmp_path / "cache"
    rehearsal_rows(str(tiny_model_dir), 0.5, 8, tmp_path / "a", seed=1, cache_dir=cache)  # 4 prompts asked
    assert len(GenerationCache(cache)) == 4
    rehearsal_rows(str(tiny_model_dir), 0.5, 12, tmp_path / "b", seed=1, cache_dir=cache)  # 6: those 4 and 2 more
    assert len(GenerationCache(cache)) == 6


def test_the_train_step_records_the_rehearsal_rows(tmp_path, tiny_model_dir):
    from workbench import schema
    from workbench.context import scratch_context
    from workbench.plugins.trainers.causal_lm import CausalLMTrainer

    rows = [{"id": f"r{i}", "split": "train" if i < 6 else "validation",
             "messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": "Answer."}]}
            for i in range(8)]
    stats = CausalLMTrainer({"model": str(tiny_model_dir), "max_steps": 1, "batch_size": 2, "warmup_probe_steps": 0,
                             "rehearsal": 0.3}).run(schema.from_rows(rows), scratch_context(tmp_path)).stats
    assert stats["rehearsal_rows"] == 0 and (tmp_path / FILE).is_file()  # 2 asked, both cut by the tiny model
    stats = CausalLMTrainer({"model": str(tiny_model_dir), "max_steps": 1, "batch_size": 2, "warmup_probe_steps": 0,
                             "rehearsal": 0}).run(schema.from_rows(rows), scratch_context(tmp_path / "off")).stats
    assert stats["rehearsal_rows"] == 0 and not (tmp_path / "off" / FILE).exists()


@pytest.mark.slow
def test_smollm2_answers_general_prompts_that_become_training_rows(tmp_path):
    logs: list[str] = []
    rows = rehearsal_rows("smollm2", 0.99, 10, tmp_path, seed=13, log=logs.append)
    kept = int(logs[0].split(": ")[1].split()[0])
    assert len(rows) == kept >= 7  # most short general answers end before the budget
    for row in rows:
        user, answer = row["messages"]
        assert user["role"] == "user" and answer["role"] == "assistant" and answer["content"]
        assert row["id"].startswith("rehearsal:")
