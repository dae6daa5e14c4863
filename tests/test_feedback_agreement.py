"""Human evaluation that can be trusted: Krippendorff's alpha, raters' agreement and the judge's calibration."""

from __future__ import annotations

import polars as pl
import pytest

from workbench.evaluation.agreement import agreement, judge_agreement, judge_winners, krippendorff_alpha
from workbench.runtime import store


def test_krippendorff_alpha_matches_the_published_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders, 12 units, gaps
    n = None
    coders = [[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
              [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    units = [[v for v in unit if v is not None] for unit in zip(*coders)]
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha([[1, 1], [2, 2]]) == 1.0 and krippendorff_alpha([[1, 1], [1, 1]]) is None
    with pytest.raises(ValueError, match="nominal or interval"):
        krippendorff_alpha(units, "ratio")


def votes(rows):
    return [{"voter": voter, "example_id": ex, "winner": w, "model": "tuned"} for voter, ex, w in rows]


def test_three_raters_get_kappa_on_common_examples_and_alpha_on_all():
    v = votes([("ana", "e1", "tuned"), ("ben", "e1", "tuned"), ("cy", "e1", "tuned"),
               ("ana", "e2", "base"), ("ben", "e2", "base"), ("cy", "e2", "tuned"),
               ("ana", "e3", "tie"), ("ben", "e3", "tie")])                          # cy skipped e3
    a = agreement(v)
    assert a["method"] == "Fleiss' kappa" and a["examples"] == 2 and a["raw"] == 0.5
    # alpha also uses e3 (two raters agree): nominal alpha by hand = 1 - D_o/D_e
    observed = 4 / 2            # e2: pairs (base,tuned) x2 each way over m-1=2 -> 4/2
    counts = {"tuned": 4, "base": 2, "tie": 2}
    expected = (sum(counts.values()) ** 2 - sum(c * c for c in counts.values())) / (sum(counts.values()) - 1)
    assert a["alpha"] == pytest.approx(1 - observed / expected)


def test_judge_agreement_with_the_human_majority():
    human = votes([("ana", "e1", "tuned"), ("ben", "e1", "tuned"), ("ana", "e2", "base"), ("ben", "e2", "base"),
                   ("ana", "e3", "tuned"), ("ben", "e3", "base")])                   # e3: no majority
    # judge verdicts in both orders: A/B shows base first, B/A shows tuned first
    verdicts = [{"ab": "B", "ba": "A"}, {"ab": "B", "ba": "A"}, {"ab": "A", "ba": "B"}, {"ab": None, "ba": None}]
    winners = judge_winners(verdicts, ["e1", "e2", "e3", "e4"])
    assert winners == {"e1": "tuned", "e2": "tuned", "e3": "base"}
    j = judge_agreement(winners, human)
    assert j["examples"] == 2 and j["agreement"] == 0.5


def test_report_shows_agreement_and_judge_calibration(tmp_path):
    from workbench.evaluation.votes import add_vote
    from workbench.report.build import build_report
    from workbench.report.document import _votes

    run = tmp_path / "run"
    step = run / "steps" / "02-evaluate-evaluate"
    step.mkdir(parents=True)
    store.write_json(run / "run.json", {"name": "run"})
    store.write_json(step / "manifest.json", {"kind": "evaluate", "component": "evaluate", "artifacts": {"results": "results.json",
                                                                                "examples": "examples.parquet"}})
    results = {"base": "base", "models": {"base": "b", "tuned": "t"}, "n_examples": 2, "scores": {"base": {}, "tuned": {}},
               "comparisons": {"tuned": {"judge": {"details": {"verdicts": [{"ab": "B", "ba": "A"},
                                                                            {"ab": "A", "ba": "B"}]}}}}}
    store.write_json(step / "results.json", results)
    store.write_parquet(step / "examples.parquet", pl.DataFrame({"id": ["e1", "e2", "e1", "e2"],
                                                                 "model_name": ["base", "base", "tuned", "tuned"]}))
    for voter in ("ana", "ben"):
        add_vote(run, "e1", "tuned", voter=voter, model="tuned")
        add_vote(run, "e2", "tuned", voter=voter, model="tuned")
    report = build_report(run, results=results)
    assert report["votes"]["agreement"]["raw"] == 1.0 and report["votes"]["agreement"]["alpha"] is None  # one value
    assert report["votes"]["judge"]["tuned"] == {"examples": 2, "agreement": 0.5, "kappa": 0.0}
    text = "\n".join(getattr(b, "text", "") for b in _votes(report["votes"]).blocks)
    assert "Agreement of 2 raters" in text and "LLM judge vs the human majority (tuned): agrees on 0.5" in text
