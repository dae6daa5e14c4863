"""Paired significance tests: is the other system really better than the base?

- sacrebleu metrics (BLEU, chrF, TER): sacrebleu's own paired bootstrap and
  approximate randomisation (``sacrebleu.significance.PairedTest``); the 95%
  interval of the difference comes from resampling sacrebleu's sufficient
  statistics with the same indices for both systems.
- accuracy: McNemar's exact test on the discordant pairs (scipy binomial).
- everything else: paired bootstrap of the difference, resampling examples.

Every test returns a :class:`Comparison` with the observed difference
(other - base), its 95% interval and a two-sided p-value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Comparison:
    base: float | None
    other: float | None
    difference: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    method: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentile_ci(diffs: Any) -> tuple[float, float]:
    import numpy as np

    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(low), float(high)


def _bootstrap_p(boot_diffs: Any, observed: float) -> float:
    """Two-sided p-value: how often a resampled difference, centred on zero, is as extreme."""
    import numpy as np

    centred = np.abs(boot_diffs - boot_diffs.mean())
    return float((np.sum(centred >= abs(observed) - 1e-12) + 1) / (len(boot_diffs) + 1))


def paired_bootstrap(score: Callable[[Any], tuple[float, float]], n: int, size: int, resamples: int,
                     seed: int) -> Comparison:
    """Paired bootstrap of ``score(indices) -> (base, other)`` over ``n`` examples.

    ``size`` rows are drawn with replacement per resample (``n`` normally).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    base, other = score(np.arange(n))
    idx = rng.integers(0, n, size=(resamples, size))
    diffs = np.array([np.subtract(*score(i)[::-1]) for i in idx])
    low, high = _percentile_ci(diffs)
    return Comparison(base, other, other - base, low, high, _bootstrap_p(diffs, other - base),
                      f"paired bootstrap ({resamples} resamples)")


def mean_bootstrap(base: Sequence[float], other: Sequence[float], resamples: int = 1000, seed: int = 0,
                   transform: Callable[[float], float] | None = None) -> Comparison:
    """Paired bootstrap on per-example scores (``transform`` maps the mean, e.g. exp for perplexity)."""
    import numpy as np

    a, b = np.asarray(base, dtype=float), np.asarray(other, dtype=float)
    f = transform or (lambda x: x)
    return paired_bootstrap(lambda i: (float(f(a[i].mean())), float(f(b[i].mean()))), len(a), len(a), resamples, seed)


def mcnemar(base_correct: Sequence[bool], other_correct: Sequence[bool], resamples: int = 1000,
            seed: int = 0) -> Comparison:
    """McNemar's exact test for paired right/wrong outcomes; bootstrap interval of the accuracy gain."""
    from scipy.stats import binomtest

    only_base = sum(1 for a, b in zip(base_correct, other_correct) if a and not b)
    only_other = sum(1 for a, b in zip(base_correct, other_correct) if b and not a)
    discordant = only_base + only_other
    p = 1.0 if discordant == 0 else float(binomtest(only_other, discordant, 0.5).pvalue)
    boot = mean_bootstrap([float(x) for x in base_correct], [float(x) for x in other_correct], resamples, seed)
    return Comparison(boot.base, boot.other, boot.difference, boot.ci_low, boot.ci_high, p,
                      "McNemar exact test; paired bootstrap interval",
                      {"only_base_correct": only_base, "only_other_correct": only_other})


def add_q_values(tests: Sequence[dict[str, Any]]) -> None:
    """Benjamini-Hochberg q-values (``q_value``) over the tests that gave a ``p_value``; None for the others.

    One adjustment for every family of many tests (the data audit's cross-tabs, a model's bias gaps).
    """
    from scipy.stats import false_discovery_control

    tested = [t for t in tests if t.get("p_value") is not None]
    for t in tests:
        t["q_value"] = None
    if tested:
        for t, q in zip(tested, false_discovery_control([t["p_value"] for t in tested])):
            t["q_value"] = float(q)


@contextmanager
def _sacrebleu_seed(seed: int) -> Iterator[None]:
    """sacrebleu reads its seed from SACREBLEU_SEED when a test is built."""
    old = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SACREBLEU_SEED", None)
        else:
            os.environ["SACREBLEU_SEED"] = old


def sacrebleu_paired(metric: Any, base: Sequence[str], other: Sequence[str], references: Sequence[str],
                     resamples: int = 1000, trials: int = 2000, seed: int = 1) -> Comparison:
    """sacrebleu's paired bootstrap and approximate randomisation for one sacrebleu metric object.

    ``seed`` must be non-zero: sacrebleu treats 0 as "unseeded".
    """
    import numpy as np
    from sacrebleu.significance import PairedTest, Result

    systems: list[tuple[str, Sequence[str]]] = [("base", list(base)), ("other", list(other))]
    refs = [list(references)]
    p_values = {}
    with _sacrebleu_seed(seed):
        for test_type, n in (("bs", resamples), ("ar", trials)):
            _, scores = PairedTest(systems, {"m": metric}, refs, test_type=test_type, n_samples=n)()
            name = next(k for k in scores if k != "System")
            base_result, other_result = (r for r in scores[name] if isinstance(r, Result))
            assert other_result.p_value is not None, "sacrebleu tests every system but the first (the baseline)"
            p_values[test_type] = float(other_result.p_value)
    difference = float(other_result.score) - float(base_result.score)
    extra: dict[str, Any] = {}
    if abs(difference) < 1e-9:
        # sacrebleu counts resampled differences strictly greater than the observed one,
        # so a zero difference gets the smallest p; with ">=" (the usual definition) it is 1
        p_values = {"bs": 1.0, "ar": 1.0}
        extra["note"] = "zero difference: p-value 1"
    base_stats = np.array(metric._extract_corpus_statistics(list(base), refs), dtype="float64")
    other_stats = np.array(metric._extract_corpus_statistics(list(other), refs), dtype="float64")

    def score(i: Any) -> tuple[float, float]:
        return (float(metric._compute_score_from_stats(base_stats[i].sum(0)).score),
                float(metric._compute_score_from_stats(other_stats[i].sum(0)).score))

    boot = paired_bootstrap(score, len(base), len(base), resamples, seed)
    return Comparison(float(base_result.score), float(other_result.score), difference, boot.ci_low, boot.ci_high,
                      p_values["bs"], "sacrebleu paired bootstrap (p); approximate randomisation in extra",
                      extra | {"p_value_ar": p_values["ar"], "ar_trials": trials, "bootstrap_resamples": resamples,
                               "signature": str(metric.get_signature())})
