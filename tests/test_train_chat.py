"""Chat rendering and loss masks: the exact template evaluation uses, assistant tokens only."""

from __future__ import annotations

import pytest

from workbench.training.batching import padding_fraction, plan_batches, split_by_tokens
from workbench.training.chat import IGNORE, audit, build_example, build_examples, render_audit
from workbench.training.schedule import lr_factor

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "Hello there.", "weight": 0},
    {"role": "user", "content": "How do I reset my password?"},
    {"role": "assistant", "content": "Click Forgot password.", "weight": 1},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from workbench.lm.models import load_tokenizer

    return load_tokenizer(str(tiny_model_dir))


def test_only_weighted_assistant_turns_are_trained(tokenizer):
    ex = build_example(tokenizer, CONVERSATION, 512)
    trained = tokenizer.decode([t for t, label in zip(ex.input_ids, ex.labels) if label != IGNORE])
    assert trained == "Click Forgot password.<|im_end|>"
    rendered = render_audit(audit(tokenizer, CONVERSATION))
    assert rendered.count("[[") == 1 and "[[Click Forgot password.<|im_end|>]]" in rendered


def test_weight_missing_trains_every_assistant_turn(tokenizer):
    unweighted = [{k: v for k, v in m.items() if k != "weight"} for m in CONVERSATION]
    ex = build_example(tokenizer, unweighted, 512)
    trained = tokenizer.decode([t for t, label in zip(ex.input_ids, ex.labels) if label != IGNORE])
    assert trained == "Hello there.<|im_end|>Click Forgot password.<|im_end|>"


def test_training_text_matches_the_generation_prompt(tokenizer):
    """Evaluation prompts with add_generation_prompt=True; training must continue exactly that text."""
    ex = build_example(tokenizer, CONVERSATION, 512)
    prompt = tokenizer.apply_chat_template([{"role": m["role"], "content": m["content"]} for m in CONVERSATION[:-1]],
                                           add_generation_prompt=True, tokenize=True)
    assert ex.input_ids[:len(prompt)] == prompt
    assert ex.labels[len(prompt)] == ex.input_ids[len(prompt)] and ex.labels[len(prompt) - 1] == IGNORE
    assert ex.input_ids == tokenizer.apply_chat_template(
        [{"role": m["role"], "content": m["content"]} for m in CONVERSATION], tokenize=True)[:len(ex.input_ids)]


def test_rows_with_nothing_to_train_are_skipped(tokenizer):
    rows = [{"id": "a", "messages": CONVERSATION},
            {"id": "b", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x", "weight": 0}]}]
    examples, skipped = build_examples(tokenizer, rows, 512)
    assert [e.row_id for e in examples] == ["a"] and skipped == 1
    short = build_example(tokenizer, CONVERSATION, 10)
    assert short.truncated and len(short.input_ids) == 10 and short.trained_tokens == 0


def test_length_grouping_cuts_padding_and_keeps_every_example():
    import random

    lengths = [random.Random(i).randint(20, 400) for i in range(200)]

    class E:
        def __init__(self, n):
            self.input_ids = [0] * n

    examples = [E(n) for n in lengths]
    grouped = plan_batches(lengths, 8, "length-grouped", seed=1, epoch=0)
    shuffled = plan_batches(lengths, 8, "random", seed=1, epoch=0)
    assert sorted(i for b in grouped for i in b) == list(range(200))
    assert padding_fraction(examples, grouped) < padding_fraction(examples, shuffled) / 3
    assert plan_batches(lengths, 8, "length-grouped", 1, 0) == grouped != plan_batches(lengths, 8, "length-grouped", 1, 1)


def test_token_budget_splits_long_batches():
    lengths = [500, 480, 100, 90, 80, 20]
    chunks = split_by_tokens(list(range(6)), lengths, 1000)
    assert sorted(i for c in chunks for i in c) == list(range(6))
    assert all(max(lengths[i] for i in c) * len(c) <= 1000 for c in chunks)
    assert split_by_tokens([0, 1], lengths, 100) == [[0], [1]]  # one example over budget still runs alone


@pytest.mark.parametrize("kind,expected_end", [("linear", 0.0), ("cosine", 0.0), ("constant", 1.0), ("step", 0.25)])
def test_schedules_warm_up_then_follow_their_shape(kind, expected_end):
    factors = [lr_factor(s, 105, kind=kind, warmup=5, step_every=50, step_gamma=0.5) for s in range(106)]
    assert factors[0] < factors[4] < factors[5] + 1e-9 and factors[5] == 1.0
    assert factors[105] == pytest.approx(expected_end, abs=1e-6)
