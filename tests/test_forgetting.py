"""The forgetting check: objective probe checks and a paired test that flags real drops, not wobbles."""

from __future__ import annotations

import json

import pytest

from workbench.errors import WorkbenchError
from workbench.evaluation.forgetting import (
    PROBE_MAX_NEW_TOKENS,
    forgetting_summary,
    load_probes,
    probe_passes,
    probe_settings,
)
from workbench.lm.generation import DecodeSettings


def test_the_packaged_probe_set_covers_five_kinds_with_known_checks():
    probes = load_probes()
    kinds = {p["kind"] for p in probes}
    assert len(probes) >= 120 and len({p["id"] for p in probes}) == len(probes)
    assert kinds == {"knowledge", "arithmetic", "instruction", "reasoning", "language"}
    assert all(sum(p["kind"] == k for p in probes) >= 20 for k in kinds)
    assert max(len(p["prompt"].split()) for p in probes) <= 25  # short: the pass runs for every model


def test_no_probe_but_a_repeat_or_describe_instruction_is_passed_by_echoing_its_question():
    echoed = [p["id"] for p in load_probes() if probe_passes(p, p["prompt"])[0]]
    assert echoed == ["i-repeat", "i-short-sentence"]  # the task is to repeat, or to write about the word it names


@pytest.mark.parametrize("answer, passes", [
    ("A week has 7 days.", True), ("Seven.", True), ("7", True), ("There are 7.", True),
    ("17 days", False), ("7.5 days", False), ("about 70", False), ("seventeen", False), ("1,7", False),
])
def test_a_number_check_matches_whole_numbers_only(answer, passes):
    assert probe_passes({"number": ["7", "seven"]}, answer)[0] is passes


def test_every_check_of_a_probe_must_hold_and_the_failed_one_is_named():
    probe = {"any": ["cat"], "max_words": 2, "regex_case": "^[a-z ]+$"}
    assert probe_passes(probe, "cat") == (True, "all checks met")
    assert probe_passes(probe, "Cat")[1].startswith("regex_case")
    assert probe_passes(probe, "a cat here")[1].startswith("max_words")
    assert probe_passes(probe, "dog")[1].startswith("any")


def test_a_probe_file_with_an_unknown_check_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "probes.jsonl"
    path.write_text(json.dumps({"id": "a", "kind": "k", "prompt": "?", "any": ["x"]}) + "\n\n"
                    + json.dumps({"id": "b", "kind": "k", "prompt": "?", "contains": ["x"]}) + "\n")
    with pytest.raises(WorkbenchError, match=r"probes.jsonl:3: .*unknown: contains"):
        load_probes(path)


def test_probe_answers_are_capped_but_keep_the_other_decoding_settings():
    settings = DecodeSettings(max_new_tokens=256, temperature=0.7, seed=3)
    capped = probe_settings(settings)
    assert capped.max_new_tokens == PROBE_MAX_NEW_TOKENS and (capped.temperature, capped.seed) == (0.7, 3)
    assert probe_settings(DecodeSettings(max_new_tokens=16)).max_new_tokens == 16


def outcomes(base: list[bool], flips_lost: int, flips_gained: int) -> list[dict]:
    """Probe rows of a model that loses the first ``flips_lost`` probes the base passes and gains as many it fails."""
    passed = list(base)
    lost = [i for i, b in enumerate(base) if b][:flips_lost]
    gained = [i for i, b in enumerate(base) if not b][:flips_gained]
    for i in lost:
        passed[i] = False
    for i in gained:
        passed[i] = True
    return rows(passed)


def rows(passed: list[bool]) -> list[dict]:
    kinds = ["knowledge", "arithmetic", "instruction", "reasoning", "language"]
    return [{"id": f"p{i}", "kind": kinds[i % 5], "prompt": "?", "answer": "", "passed": p, "why": ""}
            for i, p in enumerate(passed)]


BASE = [i % 2 == 0 for i in range(120)]  # passes 60 of 120


def test_a_real_drop_is_flagged_and_a_few_flipped_probes_are_not():
    summary = forgetting_summary({"base": rows(BASE), "forgot": outcomes(BASE, 15, 1),
                                  "wobble": outcomes(BASE, 3, 0), "noisy": outcomes(BASE, 6, 3),
                                  "better": outcomes(BASE, 0, 15)}, "base")
    m = summary["models"]
    assert summary["n_probes"] == 120 and summary["base_probe_pass_rate"] == 0.5
    assert m["forgot"]["flagged"] and m["forgot"]["p_value"] < 0.001  # 15 lost against 1 gained
    assert m["forgot"]["probe_pass_rate"] == pytest.approx(46 / 120) and m["forgot"]["base_probe_pass_rate"] == 0.5
    assert len(m["forgot"]["lost"]) == 15 and len(m["forgot"]["gained"]) == 1
    assert not m["wobble"]["flagged"] and m["wobble"]["p_value"] == pytest.approx(0.25)  # 3 lost, none gained
    assert not m["noisy"]["flagged"] and m["noisy"]["p_value"] > 0.05
    assert not m["better"]["flagged"] and m["better"]["p_value"] < 0.001  # significant, but a gain
    assert m["base"]["p_value"] is None and not m["base"]["flagged"]
    assert set(m["forgot"]["pass_rate"]) == {"all", "knowledge", "arithmetic", "instruction", "reasoning", "language"}


def test_the_old_threshold_would_have_flagged_a_wobble_on_a_small_set_that_the_test_does_not():
    base = [True] * 20 + [False] * 4  # 24 probes, as before
    summary = forgetting_summary({"base": rows(base), "tuned": outcomes(base, 3, 0)}, "base")
    tuned = summary["models"]["tuned"]
    assert tuned["base_probe_pass_rate"] - tuned["probe_pass_rate"] > 0.1  # the former rule's trigger
    assert not tuned["flagged"] and tuned["p_value"] == pytest.approx(0.25)
