"""The encoder classifier on a tiny BERT built from a config: learning, progress, checkpoints, early stopping,
cancellation and resume after SIGKILL (the shared step loop, as for the chat trainer)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_train_component import split_table
from train_helpers import assert_stopped_on_patience_with_the_lowest_loss_kept, cancel_on_check, kill_after_checkpoint

from workbench.context import scratch_context
from workbench.training.runner import TrainingCancelled

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> Path:
    """A 2-layer BERT with random weights and the embedded MiniLM's real tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from workbench.lm.embedded import minilm_dir

    folder = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def classifier(model_dir: Path, **kw):
    from workbench.plugins.trainers.classifier import ClassifierTrainer

    base = {"model": str(model_dir), "batch_size": 4, "learning_rate": 1e-2, "head_learning_rate": 1e-2,
            "warmup_steps": 0, "scheduler": "constant", "checkpoint_every": 0,
            "early_stopping_patience": 0}  # these tests count steps; early stopping has its own
    return ClassifierTrainer({**base, **kw})


def test_tiny_encoder_learns_the_labels_with_progress_and_logs(tiny_encoder_dir, tmp_path):
    result = classifier(tiny_encoder_dir, epochs=6).run(split_table(16, 8), scratch_context(tmp_path))
    history = json.loads((tmp_path / "history.json").read_text())
    assert result.stats["steps"] == len(history) == 24 and history[-1]["loss"] < 0.2 * history[0]["loss"]
    assert result.stats["validation_accuracy"] == 1.0 and result.stats["labels"] == ["refund", "shipping"]
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["n"] == progress["total"] == 24 and {"loss", "tok_s", "val"} <= set(progress["info"])
    assert list((tmp_path / "tensorboard").iterdir()) and result.artifacts["tensorboard"] == "tensorboard"
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "refund", "1": "shipping"}
    assert not (tmp_path / "checkpoints").exists()


def test_early_stopping_stops_after_patience(tiny_encoder_dir, tmp_path):
    result = classifier(tiny_encoder_dir, max_steps=20, eval_every=1, early_stopping_patience=2,
                        early_stopping_min_delta=1.0).run(split_table(16, 8), scratch_context(tmp_path))
    assert_stopped_on_patience_with_the_lowest_loss_kept(result.stats, tmp_path)


def test_cancel_keeps_the_newest_checkpoints_and_the_next_run_resumes(tiny_encoder_dir, tmp_path):
    ctx = scratch_context(tmp_path)
    ctx.cancelled = cancel_on_check(3)
    with pytest.raises(TrainingCancelled):
        classifier(tiny_encoder_dir, max_steps=6, checkpoint_every=1, keep_checkpoints=2).run(split_table(16, 8), ctx)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*"))
    assert kept == ["step-000002", "step-000003"]
    result = classifier(tiny_encoder_dir, max_steps=6).run(split_table(16, 8), scratch_context(tmp_path))
    assert result.stats["resumed_from_step"] == 3 and result.stats["steps"] == 6


def test_resume_after_sigkill_finishes_with_the_same_steps(tiny_encoder_dir, tmp_path):
    from workbench.runtime.runfile import parse_runfile

    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps({"messages": r["messages"], "label": r["label"]}) + "\n"
                            for r in split_table(60, 0).to_dicts()))
    options = {"model": str(tiny_encoder_dir), "batch_size": 2, "epochs": 8, "freeze_layers": 1,
               "checkpoint_every": 2, "keep_checkpoints": 2, "early_stopping_patience": 0}
    runfile = tmp_path / "run.toml"
    runfile.write_text(parse_runfile({"run": {"name": "clf", "seed": 5}, "steps": [
        {"kind": "load", "options": {"path": str(data)}},
        {"kind": "split", "options": {"train": 0.8, "validation": 0.2, "test": 0.0}},
        {"kind": "train", "component": "hf-classifier", "options": options},
    ]}).to_toml())
    cmd = [sys.executable, "-m", "workbench", "run", str(runfile), "--runs-dir", str(tmp_path / "runs")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    step = tmp_path / "runs" / "clf" / "steps" / "03-train-hf-classifier"
    partial = step.with_name(step.name + ".partial")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_after = kill_after_checkpoint(proc, partial / "checkpoints", 4)
    assert not step.exists()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
    stats = json.loads((step / "manifest.json").read_text())["stats"]
    assert killed_after <= stats["resumed_from_step"] < stats["steps"]  # the newest checkpoint, not step 0
    assert stats["steps"] == 8 * math.ceil(stats["train_examples"] / 2)
    assert not (step / "checkpoints").exists()  # removed once the model is saved
