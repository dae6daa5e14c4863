"""The local server's fine-tuning: a small, plain transformers training loop.

Full fine-tuning of a causal LM on OpenAI chat JSONL, loss on assistant turns
only (turns with ``weight: 0`` are context, not targets). It is deliberately
minimal so the server does not depend on the Hugging Face trainer plugin;
when that plugin's shared training function lands, the server should call it
instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

BASE_LEARNING_RATE = 1e-4
IGNORE = -100


@dataclass
class TrainConfig:
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    seed: int
    max_length: int = 1024


def encode_example(tokenizer: Any, messages: list[dict[str, Any]], max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels: assistant turns with weight != 0 are learned, the rest masked.

    Each turn's span is found by rendering the chat template up to that turn,
    which is exact for templates whose renderings are prefixes of each other.
    """
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    ids: list[int] = tokenizer.apply_chat_template(plain, tokenize=True)
    labels = [IGNORE] * len(ids)
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or message.get("weight", 1) == 0:
            continue
        start = len(tokenizer.apply_chat_template(plain[:i], add_generation_prompt=True, tokenize=True)) if i else 0
        end = len(tokenizer.apply_chat_template(plain[:i + 1], tokenize=True))
        labels[start:end] = ids[start:end]
    return ids[:max_length], labels[:max_length]


def finetune(base: str, examples: list[list[dict[str, Any]]], out_dir: Path, config: TrainConfig, *,
             on_step: Callable[[int, int, float, int], None], on_epoch: Callable[[int, Any, Any], None],
             cancelled: Callable[[], bool]) -> int:
    """Train ``base`` on ``examples``; returns trained tokens. Saves the model to ``out_dir``.

    ``on_step(step, total_steps, loss, tokens)`` after each optimiser step;
    ``on_epoch(epoch, model, tokenizer)`` after each epoch (checkpoints);
    training stops early, without saving, when ``cancelled()`` is true.
    """
    import torch

    from workbench.models import load_causal_lm

    torch.manual_seed(config.seed)
    model, tokenizer = load_causal_lm(base, padding_side="right")
    encoded = [encode_example(tokenizer, m, config.max_length) for m in examples]
    encoded = [e for e in encoded if any(label != IGNORE for label in e[1])]
    steps_per_epoch = -(-len(encoded) // config.batch_size)
    total = steps_per_epoch * config.n_epochs
    optimiser = torch.optim.AdamW(model.parameters(), lr=BASE_LEARNING_RATE * config.learning_rate_multiplier)
    device = next(model.parameters()).device
    rng = random.Random(config.seed)
    model.train()
    step = trained = 0
    for epoch in range(1, config.n_epochs + 1):
        order = list(range(len(encoded)))
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            if cancelled():
                return trained
            batch = [encoded[i] for i in order[start:start + config.batch_size]]
            width = max(len(ids) for ids, _ in batch)
            pad = tokenizer.pad_token_id
            input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch], device=device)
            labels = torch.tensor([lab + [IGNORE] * (width - len(lab)) for _, lab in batch], device=device)
            mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch], device=device)
            loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
            step += 1
            tokens = sum(len(ids) for ids, _ in batch)
            trained += tokens
            on_step(step, total, float(loss.detach()), tokens)
        on_epoch(epoch, model, tokenizer)
    model.eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return trained
