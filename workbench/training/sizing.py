"""How long to train when the user does not say: epochs from the training-set size, validation cadence.

Epochs follow the rule OpenAI's fine-tuning service applies to ``n_epochs =
"auto"``: target 3 epochs, but keep the examples seen (examples x epochs)
within 100 to 25,000 and the epochs within 1 to 25. Small sets get more
passes, large ones fewer; early stopping (on by default) ends the run sooner
when the validation loss stops improving. OpenAI's published snippet
(:func:`workbench.training.estimate.default_epochs`, kept exact for cost estimates)
rounds down on the small side too, so 33 examples see 99; here the small side
rounds up so that every set of 4 or more examples is seen at least 100 times.
"""

from __future__ import annotations

import math

from workbench.training.estimate import (
    MAX_DEFAULT_EPOCHS,
    MAX_TARGET_EXAMPLES,
    MIN_DEFAULT_EPOCHS,
    MIN_TARGET_EXAMPLES,
    TARGET_EPOCHS,
)

VALIDATIONS_PER_EPOCH = 4


def choose_epochs(n_examples: int, epochs: float | None, max_steps: int = 0) -> tuple[float | None, str]:
    """``(epochs, reason)``: the user's choice when given, else the size rule; ``None`` when ``max_steps`` decides.

    ``n_examples`` counts training rows, augmented variants and scenarios included, as OpenAI's service counts
    the lines of a training file. Counting the conversations they derive from instead (tried: 3 passes over 319
    conversations = 1.07 epochs of the demo's 892 rows) halved the answers with every fact right on the demo
    (28% against 54% at 3 epochs of the rows; docs/training.md, *Outcome benchmark*).
    """
    if max_steps:
        return None, f"max_steps = {max_steps} set in the options (epochs not used)"
    if epochs is not None:
        return epochs, f"epochs = {epochs:g} set in the options"
    chosen = auto_epochs(n_examples)
    seen = n_examples * chosen
    if chosen == TARGET_EPOCHS:
        why = f"the target for {n_examples:,} examples"
    elif n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        why = f"{n_examples:,} examples are few: {seen:,} examples seen"
    else:
        why = f"{n_examples:,} examples are many: {seen:,} examples seen"
    return float(chosen), (f"auto: {chosen} epoch{'s' * (chosen != 1)}, {why} (target {TARGET_EPOCHS} epochs, "
                           f"{MIN_TARGET_EXAMPLES:,} to {MAX_TARGET_EXAMPLES:,} examples seen, "
                           f"{MIN_DEFAULT_EPOCHS} to {MAX_DEFAULT_EPOCHS} epochs)")


def auto_epochs(n_examples: int) -> int:
    """Target 3 epochs; examples x epochs within [100, 25,000] as far as 1 to 25 epochs allow."""
    n = max(n_examples, 1)
    if n * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, math.ceil(MIN_TARGET_EXAMPLES / n))
    if n * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n)
    return TARGET_EPOCHS


def validation_interval(eval_every: int, steps_per_epoch: int) -> int:
    """Optimiser steps between validations: ``eval_every``, or 0 = auto, at least 4 times per epoch."""
    return eval_every or max(1, steps_per_epoch // VALIDATIONS_PER_EPOCH)
