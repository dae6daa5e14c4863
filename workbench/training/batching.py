"""Batches that waste little compute on padding.

On a CPU every padding token costs as much as a real one. ``length-grouped``
shuffles, then sorts inside mega-batches so a batch holds examples of similar
length, and pads only to the batch's longest; the batch order is shuffled
each epoch. ``padded`` is the naive recipe (every example padded to
``max_length``), kept for the benchmark.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from workbench.training.chat import IGNORE, Example

MEGA_BATCH = 16  # batches per sorted group: larger = less padding, less randomness


def plan_batches(lengths: Sequence[int], batch_size: int, mode: str, seed: int, epoch: int) -> list[list[int]]:
    """Indices of each batch of one epoch; deterministic for (seed, epoch)."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if mode == "length-grouped":
        size = batch_size * MEGA_BATCH
        grouped = []
        for start in range(0, len(order), size):
            grouped += sorted(order[start:start + size], key=lambda i: lengths[i], reverse=True)
        order = grouped
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if mode == "length-grouped":
        rng.shuffle(batches)
    return batches


def split_by_tokens(batch: Sequence[int], lengths: Sequence[int], budget: int, pad_to: int | None = None) -> list[list[int]]:
    """Split a batch into consecutive chunks whose padded size stays within ``budget`` tokens.

    Activation memory grows with padded tokens (about 2 MB per token for
    SmolLM2 in fp32), so a batch of long examples runs as several chunks with
    gradients accumulated; the result equals one big batch.
    """
    chunks: list[list[int]] = []
    current: list[int] = []
    for i in sorted(batch, key=lambda i: -lengths[i]):
        width = pad_to or max(lengths[j] for j in [*current, i])
        if current and width * (len(current) + 1) > budget:
            chunks.append(current)
            current = []
        current.append(i)
    return chunks + [current] if current else chunks


def collate(examples: Sequence[Example], pad_id: int, pad_to: int | None = None) -> dict[str, Any]:
    """Right-padded tensors; ``pad_to`` fixes the length (naive recipe).

    ``weights`` (per-token loss weights) is there only when an example has
    them, so a batch stays a valid input of a plain Hugging Face model.
    """
    import torch

    width = pad_to or max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    weighted = any(ex.weights is not None for ex in examples)
    weights = torch.ones((len(examples), width)) if weighted else None
    for row, ex in enumerate(examples):
        n = len(ex.input_ids)
        ids[row, :n] = torch.tensor(ex.input_ids)
        labels[row, :n] = torch.tensor(ex.labels)
        mask[row, :n] = 1
        if weights is not None and ex.weights is not None:
            weights[row, :n] = torch.tensor(ex.weights)
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    return batch if weights is None else {**batch, "weights": weights}


def padding_fraction(examples: Sequence[Example], batches: Sequence[Sequence[int]], pad_to: int | None = None) -> float:
    """Share of computed positions that are padding for this batch plan."""
    real = sum(len(examples[i].input_ids) for b in batches for i in b)
    computed = sum(len(b) * (pad_to or max(len(examples[i].input_ids) for i in b)) for b in batches)
    return 1 - real / computed if computed else 0.0
