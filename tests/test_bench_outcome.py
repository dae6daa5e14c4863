"""``workbench bench outcome``: the demo pipeline with default options on a tiny model and a slice of the sample
data; every figure present and typed, the run built from the demo's own run file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from workbench.bench import outcome

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def small_data(folder: Path, support: int, heldout: int) -> Path:
    folder.mkdir()
    for name, n in (("support.jsonl", support), ("heldout.jsonl", heldout)):
        lines = (SAMPLE / name).read_text(encoding="utf-8").splitlines(keepends=True)[:n]
        (folder / name).write_text("".join(lines), encoding="utf-8")
    return folder


def test_outcome_runfile_is_the_demo_with_the_model_and_data_swapped(tmp_path):
    from workbench.commands.demo import demo_runfile
    from workbench.runtime.runfile import load_runfile

    data = small_data(tmp_path / "data", 3, 3)
    rf = outcome.outcome_runfile(data, "/models/tiny", max_new_tokens=8)
    demo = load_runfile(demo_runfile())
    assert [(s.kind, s.component) for s in rf.steps] == [(s.kind, s.component) for s in demo.steps]
    train = next(s for s in rf.steps if s.kind == "train")
    assert train.options["model"] == "/models/tiny" and not {"epochs", "max_steps"} & set(train.options)
    evaluate = next(s for s in rf.steps if s.kind == "evaluate").options
    assert evaluate["base_model"] == "/models/tiny" and evaluate["decode"] == {"max_new_tokens": 8}
    assert [s.options["path"] for s in rf.steps if s.kind == "load"] == [str(data / "support.jsonl"),
                                                                        str(data / "heldout.jsonl")]


def test_outcome_names_missing_data_files(tmp_path):
    from workbench.errors import WorkbenchError

    (tmp_path / "support.jsonl").write_text("")
    with pytest.raises(WorkbenchError, match="heldout.jsonl"):
        outcome.outcome_runfile(tmp_path, "smollm2")


@pytest.mark.slow  # the whole demo pipeline on a tiny model: about a minute idle, 3 to 8 under heavy load
def test_outcome_bench_on_a_tiny_model_reports_every_figure(tiny_model_dir, tmp_path):
    data = small_data(tmp_path / "data", 16, 4)
    args = argparse.Namespace(data=str(data), model=str(tiny_model_dir), runs_dir=None, json=True, max_new_tokens=8)
    result = outcome.run(args)
    floats = ["base_chrf", "tuned_chrf", "chrf_p_value", "base_facts_correct", "tuned_facts_correct",
              "facts_p_value", "base_probe_pass_rate", "tuned_probe_pass_rate", "forgetting_p_value",
              "epochs_chosen", "train_seconds", "evaluate_seconds", "total_seconds"]
    for key in floats:
        assert isinstance(result[key], float), (key, result[key])
    for key in ("off_topic_answers", "threads", "evaluate_threads", "train_steps", "train_examples"):
        assert isinstance(result[key], int) and not isinstance(result[key], bool), (key, result[key])
    for key in ("best_step", "stopped_early_at_step"):  # None without validation rows / when it ran to the end
        assert result[key] is None or isinstance(result[key], int), (key, result[key])
    assert isinstance(result["forgetting_flagged"], bool)
    assert 0 <= result["tuned_facts_correct"] <= 1 and 0 <= result["tuned_chrf"] <= 100
    # the rule counts every training row, augmented or not, as OpenAI counts the lines of a file
    assert result["epochs_chosen"] == 3.0 and f"{result['train_examples']:,} examples" in result["epochs_reason"]
    assert result["threads"] >= 1 and result["total_seconds"] >= result["train_seconds"] + result["evaluate_seconds"]
    for key in ("load_average_before", "load_average_after"):
        assert len(result[key]) == 3 and all(isinstance(x, float) for x in result[key])
    assert result["run_dir"] is None  # the scratch folder is gone
