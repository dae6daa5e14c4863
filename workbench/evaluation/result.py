"""What a metric's ``compute`` returns: one small, JSON-able result object.

``score`` is the corpus-level figure; ``per_example`` (aligned with the frame's
rows, ``None`` where a row does not apply) lets the comparison pair examples;
``details`` carries extras such as a confusion matrix or sacrebleu's
signature string, recorded so a number can be reproduced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class MetricResult:
    name: str
    score: float | None
    per_example: Sequence[float | None] | None = None
    #: how ``score`` follows from ``per_example``: "mean", "exp_mean" (perplexity
    #: from per-example losses) or "corpus" (recomputed from the rows, e.g. BLEU)
    aggregate: str = "mean"
    #: None for neutral figures (answer length) where neither direction is better
    higher_is_better: bool | None = True
    #: sacrebleu signature or another reproducibility string
    signature: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: why the score is missing (metric not applicable to these rows)
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def skipped(name: str, reason: str, *, higher_is_better: bool | None = True) -> MetricResult:
    """A result for a metric that does not apply (e.g. no labelled rows)."""
    return MetricResult(name, None, higher_is_better=higher_is_better, skipped=reason)


def aggregate(values: Sequence[float | None], how: str) -> float | None:
    """The corpus score from per-example scores for the ``mean``/``exp_mean`` aggregates."""
    import math

    m = mean(values)
    if how == "exp_mean" and m is not None:
        return math.exp(m)
    if how not in ("mean", "exp_mean"):
        raise ValueError(f"aggregate {how!r} cannot be computed from per-example scores")
    return m


def mean(values: Sequence[float | None]) -> float | None:
    """Mean over the values that apply (None when none do)."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
