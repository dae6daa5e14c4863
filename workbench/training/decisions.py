"""A larger loss weight on the answer tokens that choose between intents.

A support answer is mostly house style; which answer it is (the refund policy
or the order status) is chosen by a few tokens where answers of different
intents part, right after the shared greeting. Every token weighing the same,
those few are drowned: the tuned model's wrong answers had the style right and
the choice wrong (docs/training.md, "Along one training run").

A *decision context* is the ``CONTEXT`` tokens before a trained token (fewer at
the start of an answer, marked as such). It decides when, over the training
answers, it is followed by more than one token and by answers of more than one
label. Rows without a ``label`` each count as their own label when no row has
one; when some rows have labels, only those define the contexts. A token whose
context decides gets ``weight`` in the loss, every other trained token 1.

Measured on the demo, weights 4 and 16 end within the run-to-run noise of
weight 1 on the held-out questions (docs/training.md, "Decision tokens"):
the hypothesis above did not hold there; the default stays 4, at no cost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from workbench.training.chat import IGNORE, Example

CONTEXT = 6  # tokens: long enough to tell "Outfitters! I" from "Thanks! I", short enough to recur across answers


def _contexts(ex: Example) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(position, context)`` of every trained token of ``ex``."""
    for start, end in ex.spans:
        for i in range(start, end):
            if ex.labels[i] != IGNORE:
                yield i, (tuple(ex.input_ids[i - CONTEXT:i]) if i - CONTEXT >= start
                          else ("start", *ex.input_ids[start:i]))


def decision_contexts(examples: Sequence[Example]) -> set[tuple[Any, ...]]:
    """The contexts after which the training answers part by label (see the module docstring)."""
    labelled = [ex for ex in examples if ex.label is not None]
    sources = [(ex, ex.label) for ex in labelled] if labelled else [(ex, n) for n, ex in enumerate(examples)]
    following: dict[tuple[Any, ...], set[int]] = defaultdict(set)
    labels: dict[tuple[Any, ...], set[Any]] = defaultdict(set)
    for ex, label in sources:
        for i, context in _contexts(ex):
            following[context].add(ex.input_ids[i])
            labels[context].add(label)
    return {c for c, tokens in following.items() if len(tokens) > 1 and len(labels[c]) > 1}


def weigh_decisions(examples: Sequence[Example], contexts: set[tuple[Any, ...]], weight: float) -> int:
    """Give the decision tokens of ``examples`` loss weight ``weight``; how many there are."""
    count = 0
    for ex in examples:
        weights = [1.0] * len(ex.input_ids)
        for i, context in _contexts(ex):
            if context in contexts:
                weights[i] = weight
                count += 1
        ex.weights = weights
    return count
