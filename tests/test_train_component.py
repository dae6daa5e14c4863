"""The trainers as run steps, the encoder classifier, the audit command and accelerate launch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import schema
from workbench.context import scratch_context

ROOT = Path(__file__).resolve().parent.parent


def split_table(n_train: int = 12, n_val: int = 4):
    rows = []
    for i in range(n_train + n_val):
        label = ["refund", "shipping"][i % 2]
        answer = "Your refund is on its way." if label == "refund" else "It ships tomorrow."
        question = f"I want my money back for order {i}" if label == "refund" else f"When does order {i} arrive?"
        rows.append({"id": f"r{i}", "label": label, "split": "train" if i < n_train else "validation",
                     "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]})
    return schema.from_rows(rows)


def test_causal_lm_step_returns_table_stats_and_model(tiny_model_dir, tmp_path):
    from workbench.lm.generation import chat_model
    from workbench.plugins.trainers.causal_lm import CausalLMTrainer

    table = split_table()
    trainer = CausalLMTrainer({"model": str(tiny_model_dir), "max_steps": 3, "batch_size": 4, "warmup_probe_steps": 1})
    result = trainer.run(table, scratch_context(tmp_path / "step"))
    assert result.table.equals(table) and result.artifacts == {"model": "model", "tensorboard": "tensorboard"}
    assert result.stats["steps"] == 3 and result.stats["final_val_loss"] is not None
    figures = json.loads((tmp_path / "step" / "preflight.json").read_text())
    assert figures["optimizer_steps"] == 3 and figures["tokens_per_epoch"] > 0 and figures["expected_seconds"] > 0
    answer = chat_model(str(tmp_path / "step" / "model")).chat([[{"role": "user", "content": "hi"}]])
    assert isinstance(answer[0].text, str)


def test_causal_lm_step_needs_a_train_split(tiny_model_dir, tmp_path):
    from workbench.errors import WorkbenchError
    from workbench.plugins.trainers.causal_lm import CausalLMTrainer

    table = split_table().with_columns(schema.pl.lit("test").alias("split"))
    with pytest.raises(WorkbenchError, match="no rows with split = 'train'"):
        CausalLMTrainer({"model": str(tiny_model_dir)}).run(table, scratch_context(tmp_path))


def test_trainers_are_registered_and_train_is_the_default_kind():
    from workbench.runtime.discovery import get_registry
    from workbench.runtime.runfile import DEFAULT_COMPONENT

    registry = get_registry()
    assert registry.entry("trainer", "hf-causal-lm") and registry.entry("trainer", "hf-classifier")
    assert DEFAULT_COMPONENT["train"] == "hf-causal-lm"


def test_classifier_learns_the_labels(tmp_path):
    from workbench.plugins.trainers.classifier import ClassifierTrainer

    table = split_table(24, 8)
    result = ClassifierTrainer({"epochs": 3, "batch_size": 8, "freeze_layers": 4}).run(table, scratch_context(tmp_path))
    assert result.stats["labels"] == ["refund", "shipping"] and result.stats["validation_accuracy"] == 1.0
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "refund", "1": "shipping"}


def test_mask_audit_command_marks_assistant_tokens(tiny_model_dir, tmp_path, capsys):
    from workbench.cli import main

    data = tmp_path / "chat.jsonl"
    data.write_text("not json\n" + json.dumps({"messages": [{"role": "user", "content": "Hi"},
                                                            {"role": "assistant", "content": "Hello!"}]}) + "\n")
    assert main(["mask-audit", str(data), "--model", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    assert "[[Hello!<|im_end|>]]" in out and "[[Hi" not in out
    assert main(["mask-audit", str(data), "--model", str(tiny_model_dir), "--row", "5"]) == 1


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes_agree_on_weights(tiny_model_dir, tmp_path):
    data = tmp_path / "data.jsonl"
    rows = split_table(16, 0).to_dicts()
    data.write_text("".join(json.dumps({"messages": r["messages"]}) + "\n" for r in rows))
    opts = json.dumps({"model": str(tiny_model_dir), "method": "full", "batch_size": 2, "max_steps": 3,
                       "warmup_probe_steps": 0, "checkpoint_every": 0})
    accelerate = Path(sys.executable).with_name("accelerate")
    # --multi_gpu makes accelerate start the processes through torchrun; without GPUs the loop runs DDP on gloo.
    # --main_process_port 0: a free port from the OS, not the fixed default 29500 another run may hold
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", "0", "-m", "workbench.training.launch", str(data),
           str(tmp_path / "out"),
           "--options", opts, "--validation", "0.25"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads((tmp_path / "out" / f"result-rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["processes"] for r in results] == [2, 2] and [r["steps"] for r in results] == [3, 3]
    assert results[0]["weights_sha256"] == results[1]["weights_sha256"]
    assert (tmp_path / "out" / "model" / "config.json").exists()


def test_train_step_in_a_run_gives_later_steps_the_model(tiny_model_dir, tmp_path):
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import parse_runfile

    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps({"id": r["id"], "messages": r["messages"]}) + "\n"
                            for r in split_table(16, 0).to_dicts()))
    runfile = parse_runfile({"run": {"name": "train-demo", "seed": 3}, "steps": [
        {"kind": "load", "options": {"path": str(data)}},
        {"kind": "split", "options": {"train": 0.75, "validation": 0.25, "test": 0.0}},
        {"kind": "train", "options": {"model": str(tiny_model_dir), "max_steps": 2, "warmup_probe_steps": 0}},
    ]}, base_dir=tmp_path)
    outcome = execute(runfile, runs_dir=tmp_path / "runs")
    model_dir = Path(outcome.artifacts["train.model"])
    assert (model_dir / "config.json").exists() and model_dir.parent.name == "03-train-hf-causal-lm"
    manifest = outcome.steps[-1].manifest
    assert manifest["stats"]["steps"] == 2 and manifest["options"]["method"] == "lora"
    again = execute(runfile, runs_dir=tmp_path / "runs")
    assert again.steps[-1].reused


def test_a_measured_time_stays_positive_when_rounded():
    from workbench.training.preflight import rounded_seconds

    assert rounded_seconds(0.0412) == 0.0412 and rounded_seconds(1234.56) == 1234.6 and rounded_seconds(0.96) == 0.96
