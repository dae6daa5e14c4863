"""The training loop on the tiny Llama: methods, memorisation, early stopping, resume, cancel, grid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from train_helpers import assert_stopped_on_patience_with_the_lowest_loss_kept, cancel_on_check, kill_after_checkpoint

from workbench.training.loop import TrainingCancelled, TrainJob, train
from workbench.training.options import CausalLMOptions

ROOT = Path(__file__).resolve().parent.parent


def qa_rows(n: int, start: int = 0) -> list[dict]:
    return [{"id": f"r{i}", "messages": [
        {"role": "user", "content": f"Order {i}: where is it?"},
        {"role": "assistant", "content": f"Order {i} ships today. Thanks for shopping with us!"}]}
        for i in range(start, start + n)]


def options(model_dir: Path, **kw) -> CausalLMOptions:
    base = dict(model=str(model_dir), batch_size=4, warmup_probe_steps=0, checkpoint_every=0, warmup_steps=0,
                early_stopping_patience=0)  # these tests count steps; early stopping has its own
    return CausalLMOptions(**{**base, **kw})


def run(model_dir, tmp_path, rows=None, val=None, **kw):
    job = TrainJob(options(model_dir, **kw), rows or qa_rows(16), val if val is not None else qa_rows(4, 100),
                   tmp_path / "out", log=lambda _m: None)
    return train(job)


def test_full_finetuning_memorises_and_saves_a_loadable_model(tiny_model_dir, tmp_path):
    from workbench.lm.models import load_causal_lm

    result = run(tiny_model_dir, tmp_path, method="full", learning_rate=3e-3, epochs=6, scheduler="constant")
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    assert result.stats["final_val_loss"] < history[0]["loss"]
    assert result.stats["saved_as"] == "full" and result.stats["steps"] == 24
    model, _ = load_causal_lm(str(tmp_path / "out" / "model"))
    assert model.config.num_hidden_layers == 2
    assert (tmp_path / "out" / "preflight.json").exists() and list((tmp_path / "out" / "tensorboard").iterdir())


def test_lora_adapter_or_merged_and_only_adapters_train(tiny_model_dir, tmp_path):
    from workbench.lm.models import load_causal_lm
    from workbench.training import preflight

    result = run(tiny_model_dir, tmp_path, method="lora", merge=False, lora_r=4, max_steps=2)
    names = [n for n, p in result.model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    # unset freeze_layers: LoRA adapts only the upper half (layer 1 of 2) and says so
    assert all(".layers.1." in n for n in names) and result.stats["frozen_layers"] == 1
    figures = json.loads((tmp_path / "out" / "preflight.json").read_text())
    assert "(embeddings and lowest 1 of 2 layers frozen)" in preflight.summary(figures)
    assert (tmp_path / "out" / "model" / "adapter_config.json").exists() and result.stats["saved_as"] == "adapter"
    model, _ = load_causal_lm(str(tmp_path / "out" / "model"))
    assert hasattr(model, "peft_config")


def test_head_method_freeze_layers_and_discriminative_rates(tiny_model_dir, tmp_path):
    from workbench.lm.models import load_causal_lm
    from workbench.training import methods

    model, _ = load_causal_lm(str(tiny_model_dir))
    opts = options(tiny_model_dir, method="full", freeze_layers=1, layer_lr_decay=0.5, head_learning_rate=0.01)
    model = methods.prepare_model(model, opts)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert any(".layers.0." in n for n in frozen) and not any(".layers.1." in n for n in frozen)
    assert "model.embed_tokens.weight" not in frozen  # tied to the output head, which keeps training
    rates = sorted({g["lr"] for g in methods.param_groups(model, opts)})
    assert rates == [opts.learning_rate, 0.01]  # top layer and norm at the base rate, the (tied) head at its own
    head = run(tiny_model_dir, tmp_path, method="head", new_head=True, max_steps=2)
    assert [n for n, p in head.model.named_parameters() if p.requires_grad] == ["lm_head.weight"]
    reloaded, _ = load_causal_lm(str(tmp_path / "out" / "model"))
    assert not reloaded.config.tie_word_embeddings
    assert not (reloaded.lm_head.weight == reloaded.model.embed_tokens.weight).all()


@pytest.mark.parametrize(("method", "freeze", "of_30", "of_31"), [  # odd depth: the smaller half freezes
    ("lora", None, 15, 15), ("lora", 0, 0, 0), ("lora", 4, 4, 4), ("full", None, 0, 0), ("head", None, 0, 0),
    ("full", 30, 30, 30)])
def test_frozen_layers_default_to_the_lower_half_with_lora_only(tiny_model_dir, method, freeze, of_30, of_31):
    from workbench.training import methods

    opts = options(tiny_model_dir, method=method, freeze_layers=freeze)
    assert (methods.frozen_layers(opts, 30), methods.frozen_layers(opts, 31)) == (of_30, of_31)


def test_layer_rates_decay_downwards(tiny_model_dir):
    from workbench.lm.models import load_causal_lm
    from workbench.training import methods

    model, _ = load_causal_lm(str(tiny_model_dir))
    opts = options(tiny_model_dir, method="full", layer_lr_decay=0.5)
    groups = methods.param_groups(model, opts)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    lr = opts.learning_rate
    assert lr_of[id(named["model.layers.1.mlp.up_proj.weight"])] == lr
    assert lr_of[id(named["model.layers.0.mlp.up_proj.weight"])] == lr * 0.5
    assert lr_of[id(named["model.norm.weight"])] == lr
    assert lr_of[id(named["model.embed_tokens.weight"])] == lr  # tied to the head: the head's rate


def test_early_stopping_stops_after_patience(tiny_model_dir, tmp_path):
    result = run(tiny_model_dir, tmp_path, max_steps=20, eval_every=1, early_stopping_patience=2,
                 early_stopping_min_delta=1.0)
    assert_stopped_on_patience_with_the_lowest_loss_kept(result.stats, tmp_path / "out")


def test_cancel_saves_a_checkpoint_and_the_next_run_resumes(tiny_model_dir, tmp_path):
    job = TrainJob(options(tiny_model_dir, max_steps=6, checkpoint_every=1, keep_checkpoints=2), qa_rows(16), [],
                   tmp_path / "out", log=lambda _m: None, cancelled=cancel_on_check(3))
    with pytest.raises(TrainingCancelled):
        train(job)
    kept = sorted(p.name for p in (tmp_path / "out" / "checkpoints").glob("step-*"))
    assert kept == ["step-000002", "step-000003"]
    result = train(TrainJob(options(tiny_model_dir, max_steps=6), qa_rows(16), [], tmp_path / "out", log=lambda _m: None))
    assert result.stats["resumed_from_step"] == 3 and result.stats["steps"] == 6


def test_resume_after_sigkill_finishes_with_the_same_steps(tiny_model_dir, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in qa_rows(48)))
    out = tmp_path / "out"
    opts = json.dumps({"model": str(tiny_model_dir), "batch_size": 2, "max_steps": 40, "checkpoint_every": 2,
                       "warmup_probe_steps": 0, "keep_checkpoints": 2, "early_stopping_patience": 0})
    cmd = [sys.executable, "-m", "workbench.training.launch", str(data), str(out), "--options", opts]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_after = kill_after_checkpoint(proc, out / "checkpoints", 4)
    assert not (out / "result-rank0.json").exists()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
    stats = json.loads((out / "result-rank0.json").read_text())
    assert stats["steps"] == 40 and killed_after <= stats["resumed_from_step"] < 40  # the newest checkpoint, not step 0
    assert not (out / "checkpoints").exists()  # removed once the model is saved


def test_grid_search_ranks_trials_by_validation_loss(tiny_model_dir, tmp_path):
    from workbench.training.grid import run_grid

    opts = options(tiny_model_dir, method="full", max_steps=3, grid={"learning_rate": [1e-5, 3e-3]})
    stats = run_grid(TrainJob(opts, qa_rows(12), qa_rows(4, 100), tmp_path / "out", log=lambda _m: None))
    losses = [r["val_loss"] for r in stats["grid"]]
    assert stats["trials"] == 2 and losses == sorted(losses)
    assert stats["grid"][0]["learning_rate"] == 3e-3
    assert (tmp_path / "out" / "model" / "config.json").exists()
    assert json.loads((tmp_path / "out" / "grid.json").read_text()) == stats["grid"]


def test_grid_rejects_unknown_option_names():
    with pytest.raises(ValueError, match="unknown options: lr"):
        CausalLMOptions(grid={"lr": [1e-3]})
