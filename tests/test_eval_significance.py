"""Significance tests reject on a clearly better system and not on identical ones."""

from __future__ import annotations

import random

import pytest

from workbench.evaluation import significance as sig

REFS = [f"please reset the password of account number {i} from the settings page" for i in range(30)]
GOOD = list(REFS)
BAD = [f"i do not know about item {i}" for i in range(30)]


@pytest.mark.parametrize("cls", ["BLEU", "CHRF"])
def test_sacrebleu_paired_tests_reject_a_clearly_better_system(cls):
    import sacrebleu

    c = sig.sacrebleu_paired(getattr(sacrebleu.metrics, cls)(), BAD, GOOD, REFS, resamples=200, trials=200)
    assert c.difference > 50
    assert c.p_value < 0.05 and c.extra["p_value_ar"] < 0.05
    assert c.ci_low > 0


@pytest.mark.parametrize("cls", ["BLEU", "CHRF"])
def test_sacrebleu_paired_tests_do_not_reject_identical_systems(cls):
    import sacrebleu

    c = sig.sacrebleu_paired(getattr(sacrebleu.metrics, cls)(), GOOD, GOOD, REFS, resamples=200, trials=200)
    assert c.difference == 0 and c.p_value == 1.0 and c.extra["p_value_ar"] == 1.0


def test_sacrebleu_difference_matches_corpus_scores():
    import sacrebleu

    mixed = GOOD[:15] + BAD[15:]
    c = sig.sacrebleu_paired(sacrebleu.metrics.CHRF(), BAD, mixed, REFS, resamples=100, trials=100)
    expected = sacrebleu.corpus_chrf(mixed, [REFS]).score - sacrebleu.corpus_chrf(BAD, [REFS]).score
    assert c.difference == pytest.approx(expected)
    assert c.ci_low <= c.difference <= c.ci_high


def test_paired_bootstrap_rejects_better_and_not_noise():
    rng = random.Random(0)
    base = [rng.random() for _ in range(60)]
    better = [b + 0.3 for b in base]
    assert sig.mean_bootstrap(base, better, 500, seed=1).p_value < 0.01
    same = sig.mean_bootstrap(base, list(base), 500, seed=1)
    assert same.p_value == 1.0 and same.difference == 0
    # per-example changes that cancel out: big noise, no systematic difference
    noisy = [b + (0.2 if i % 2 else -0.2) for i, b in enumerate(base)]
    assert sig.mean_bootstrap(base, noisy, 500, seed=1).p_value > 0.5


def test_mcnemar_counts_discordant_pairs():
    from scipy.stats import binomtest

    base = [True] * 10 + [False] * 20
    other = [True] * 28 + [False] * 2
    c = sig.mcnemar(base, other, 200)
    assert c.extra == {"only_base_correct": 0, "only_other_correct": 18}
    assert c.p_value == pytest.approx(binomtest(18, 18, 0.5).pvalue)
    assert sig.mcnemar(base, base).p_value == 1.0
