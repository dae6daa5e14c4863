"""The comparison's arithmetic: Holm's correction on a worked example, seed spread, curve readings, the chart."""

from __future__ import annotations

import pytest

from workbench.experiment.compare import curve_reading, holm, seed_spread
from workbench.experiment.spec import parse_experiment


def test_holm_on_a_worked_example():
    # m = 4: sorted 0.01, 0.02, 0.03, 0.04 -> 0.04, 0.06, 0.06 (monotone: max(0.06, 0.06)), 0.06 (max(0.06, 0.04))
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    # capped at 1, untested entries stay None and do not count in m (m = 3: 0.005*3, 0.2*2, 0.7*1 -> 0.7)
    assert holm([0.2, None, 0.005, 0.7]) == pytest.approx([0.4, None, 0.015, 0.7])
    assert holm([0.6, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_seed_spread_is_mean_and_sd_across_a_variants_seeds():
    exp = parse_experiment({"run": {"name": "e"}, "steps": [{"kind": "load"}, {"kind": "train"}],
                            "variants": [{"name": "a", "seeds": [1, 2, 3]}, {"name": "b"}]})
    runs = [{"name": "a", "scores": {"chrf": s, "ter": None}} for s in (30.0, 32.0, 34.0)]
    spread = seed_spread(exp, runs + [{"name": "b", "scores": {"chrf": 50.0}}])
    assert spread == {"a": {"chrf": {"mean": 32.0, "sd": 2.0, "min": 30.0, "max": 34.0, "n": 3}}}


def curve(steps, hib=True, metric="chrf"):
    points = [{"label": "quarter", "fraction": 0.25, "train_rows": 10}, {"label": "half", "fraction": 0.5, "train_rows": 20},
              {"label": "full", "fraction": 1.0, "train_rows": 40}]
    return {"metric": metric, "higher_is_better": hib, "points": points,
            "steps": [{"from": a["label"], "to": b["label"], **s} for (a, b), s in zip(zip(points, points[1:]), steps)]}


def test_curve_readings_say_how_it_moved_and_whether_it_still_rises():
    rising = curve([{"difference": 1.0, "ci_low": -0.5, "ci_high": 2.0}, {"difference": 3.1, "ci_low": 1.2, "ci_high": 5.0}])
    assert curve_reading(rising) == (
        "from 25% to 50% of the data (10 to 20 training rows) chrf rose 1 points [-0.5, 2]; "
        "from 50% to 100% of the data (20 to 40 training rows) chrf rose 3.1 points [1.2, 5]; "
        "the curve is still rising: more data is likely to help.")
    flat = curve([{"difference": 2.0, "ci_low": 1.0, "ci_high": 3.0}, {"difference": 0.2, "ci_low": -1.0, "ci_high": 1.4}])
    assert curve_reading(flat).endswith("the curve may be flattening (or the test set is too small to tell).")
    ter_falls = curve([{"difference": -2.0, "ci_low": -3.0, "ci_high": -1.0}] * 2, hib=False, metric="ter")
    assert "ter fell 2 points" in curve_reading(ter_falls) and "still improving" in curve_reading(ter_falls)
    worse = curve([{"difference": 1.0, "ci_low": 0.5, "ci_high": 1.5}, {"difference": -2.0, "ci_low": -3.0, "ci_high": -1.0}])
    assert curve_reading(worse).endswith("the curve turned worse at the last step.")
    untested = curve([{"skipped": "fewer than 2 shared examples"}] * 2)
    assert "was not compared (fewer than 2 shared examples)" in curve_reading(untested)


def test_learning_curve_chart_escapes_labels_and_draws_a_band():
    from workbench.experiment.report import learning_curve_chart

    c = curve([])
    for p, s in zip(c["points"], (30.0, 35.0, 37.0)):
        p.update(score=s, ci=[s - 2, s + 2])
    c["points"][0]["label"] = "<script>x</script>"
    svg = learning_curve_chart(c)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<circle") == 3 and "<polygon" in svg and "<polyline" in svg


def _column(label, scores_by_id, metric="rouge_l"):
    import polars as pl

    from workbench.evaluation.runs_table import Column

    ids = list(scores_by_id)
    frame = pl.DataFrame({"id": ids, "prediction": ["p"] * len(ids), "reference": ["r"] * len(ids),
                          f"score_{metric}": list(scores_by_id.values())})
    mean = sum(scores_by_id.values()) / len(ids)
    return Column(label, label, "tuned", {metric: {"score": mean, "aggregate": "mean", "higher_is_better": True}}, frame)


def test_seeded_difference_pairs_runs_by_seed_and_tests_the_mean_across_seeds():
    from workbench.experiment.compare import seeded_difference

    ids = [f"e{i}" for i in range(8)]
    ref = [(5, _column("ref5", {i: 0.2 + 0.01 * k for k, i in enumerate(ids)})),
           (6, _column("ref6", {i: 0.3 for i in ids}))]
    other = [(6, _column("o6", {i: 0.5 for i in ids})),  # seed 6 pairs with ref's seed 6 whatever the order
             (5, _column("o5", {i: 0.2 + 0.01 * k + 0.1 for k, i in enumerate(ids)}))]
    d = seeded_difference(ref, other, "rouge_l", 200, 50, 1)
    assert d["n_paired"] == 16  # 8 examples x 2 seed pairs, stacked
    assert d["difference"] == pytest.approx((0.1 + 0.2) / 2)  # the mean of the seeds' differences
    assert d["ci_low"] <= d["difference"] <= d["ci_high"]
    # a single run against seeds: paired with each of them, so the difference is the seeds' mean minus it
    single = [(None, _column("one", {i: 0.25 for i in ids}))]
    d = seeded_difference(single, other, "rouge_l", 200, 50, 1)
    assert d["n_paired"] == 16
    assert d["difference"] == pytest.approx((0.5 + sum(0.3 + 0.01 * k for k in range(8)) / 8) / 2 - 0.25)
