"""``workbench bench train`` on the tiny model: both recipes run, alternating, and the report has every key."""

from __future__ import annotations

import argparse
import json

import pytest


def test_train_bench_reports_both_recipes(tiny_model_dir, tmp_path):
    from workbench.bench import train as bench

    data = tmp_path / "chat.jsonl"
    data.write_text("{broken\n" + "".join(json.dumps({"messages": [
        {"role": "user", "content": f"Where is order {i}?"},
        {"role": "assistant", "content": f"Order {i} ships today." + " Thanks!" * (i % 5)}]}) + "\n" for i in range(24)))
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--model", str(tiny_model_dir), "--data", str(data), "--steps", "2",
                              "--naive-length", "64", "--validation", "4", "--repeats", "2"])
    report = bench.run(args)
    for key in ("naive_tokens_per_second", "workbench_tokens_per_second", "speedup", "naive_final_loss",
                "workbench_final_loss", "matmul_peak_flops", "achieved_flops", "flops_fraction_of_peak",
                "flops_per_token_convention"):
        assert key in report
    assert report["naive_tokens_per_second"] > 0 and report["workbench_tokens_per_second"] > 0
    ratio = report["workbench_tokens_per_second"] / report["naive_tokens_per_second"]
    assert report["speedup"] == pytest.approx(ratio, abs=0.05)
    assert 0 < report["naive_final_loss"] < 20 and 0 < report["workbench_final_loss"] < 20
    assert report["matmul_peak_flops"] > 1e8 and report["flops_per_token_convention"].startswith("4N")
    assert report["repeats"] == 2 and len(report["load_average_before"]) == len(report["load_average_after"]) == 3
    assert report["workbench_tokens_per_second"] == max(report["workbench_tokens_per_second_all"])
    assert report["naive_tokens_per_second"] == max(report["naive_tokens_per_second_all"])
    assert len(report["naive_tokens_per_second_all"]) == len(report["workbench_tokens_per_second_all"]) == 2
