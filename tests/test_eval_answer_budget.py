"""The answer budget: unset max_new_tokens is sized so no reference's answer is cut before its facts."""

from __future__ import annotations

import polars as pl

from workbench.evaluation.answer_budget import CEILING, FLOOR, answer_budget


def test_the_budget_covers_the_longest_reference_with_a_margin_within_floor_and_ceiling():
    budget, why = answer_budget(["short", None, "x" * 800])  # about 200 tokens
    assert budget == 256 and budget % 16 == 0 and "200 tokens" in why and "800 characters" in why
    assert answer_budget(["a few words"])[0] == FLOOR
    assert answer_budget([])[0] == FLOOR
    assert answer_budget(["x" * 100_000])[0] == CEILING


def test_the_evaluate_step_sizes_an_unset_cap_and_keeps_a_set_one(tmp_path, tiny_model_dir):
    from workbench.context import StepContext
    from workbench.runtime.discovery import get_registry

    long_answer = "Your parcel left our warehouse today. " * 20  # 760 characters: about 190 tokens
    rows = [{"id": f"t{i}", "split": "test", "label": None, "expected_behavior": None,
             "messages": [{"role": "user", "content": f"Where is order {i}?"},
                          {"role": "assistant", "content": long_answer if i == 0 else "On its way."}]}
            for i in range(3)]
    table = pl.DataFrame(rows)
    step = get_registry().get("step", "evaluate")
    for decode, cap, reason in [({}, 240, "auto: the longest reference is about 190 tokens"),
                                ({"max_new_tokens": 8}, 8, "set in the options")]:
        options = {"base_model": str(tiny_model_dir), "tuned_model": str(tiny_model_dir), "metrics": ["chrf"],
                   "forgetting_probe": False, "bias": False, "decode": decode, "bootstrap_resamples": 10,
                   "ar_trials": 10}
        ctx = StepContext(run_dir=tmp_path, step_dir=tmp_path / f"eval-{cap}", seed=0)
        step(options).run(table, ctx)
        results = __import__("json").loads((ctx.step_dir / "results.json").read_text())
        assert results["decode"]["max_new_tokens"] == cap and results["max_new_tokens_reason"].startswith(reason)
