"""``hf-dpo``: preference tuning on a tiny model widens the chosen-vs-rejected margin on held-back pairs."""

from __future__ import annotations

import json

from workbench import schema


def pairs(n: int, split: str, offset: int = 0) -> list[dict]:
    rows = []
    for i in range(offset, offset + n):
        rows.append({"id": f"p{i}", "split": split, "origin": "feedback",
                     "messages": [{"role": "user", "content": f"Where is parcel {i}?"},
                                  {"role": "assistant", "content": "Thanks for asking! It ships today."}],
                     "meta": {"rejected": "No idea, go away.", "exchange_ids": [f"ex-{i}"]}})
    return rows


def test_dpo_widens_the_heldout_margin_and_saves_an_adapter(tmp_path, tiny_model_dir):
    from workbench.context import StepContext
    from workbench.plugins.trainers.dpo import DPOTrainer

    table = schema.from_rows(pairs(8, "train") + pairs(3, "validation", offset=100))
    step = tmp_path / "runs" / "r" / "steps" / "02-train-hf-dpo"
    ctx = StepContext(step_dir=step, run_dir=step.parents[1], step_name=step.name, seed=1, log=lambda m: None)
    trainer = DPOTrainer(DPOTrainer.Options(model=str(tiny_model_dir), max_steps=12, batch_size=4,
                                            learning_rate=5e-3, warmup_steps=0, scheduler="constant", lora_r=4,
                                            eval_every=4, checkpoint_every=4, early_stopping_patience=0,
                                            max_length=64, device="cpu", threads=1))
    result = trainer.run(table, ctx)
    s = result.stats
    assert s["steps"] == 12 and s["train_pairs"] == 8 and s["validation_pairs"] == 3
    assert s["heldout_margin_after"] > s["heldout_margin_before"] + 1.0, s
    assert (step / "model" / "adapter_config.json").exists()
    assert json.loads((step / "model" / "adapter_config.json").read_text())["r"] == 4
    assert any((step / "tensorboard").rglob("events.out.tfevents*"))
    assert result.table.height == table.height  # the table passes through


def test_a_restarted_step_resumes_from_its_latest_checkpoint(tmp_path, tiny_model_dir):
    from workbench.context import StepContext
    from workbench.plugins.trainers.dpo import DPOTrainer

    table = schema.from_rows(pairs(8, "train"))
    step = tmp_path / "step"
    ctx = StepContext(step_dir=step, seed=1, log=lambda m: None)
    options = {"model": str(tiny_model_dir), "batch_size": 4, "learning_rate": 1e-3, "lora_r": 4, "warmup_steps": 0,
               "checkpoint_every": 2, "keep_checkpoints": 1, "max_length": 64, "device": "cpu", "threads": 1}
    first = DPOTrainer(DPOTrainer.Options(**options, max_steps=2)).run(table, ctx).stats
    assert first["resumed_from"] is None and (step / "checkpoints" / "checkpoint-2").is_dir()
    again = DPOTrainer(DPOTrainer.Options(**options, max_steps=4)).run(table, ctx).stats
    assert again["resumed_from"] == "checkpoint-2" and again["steps"] == 4
    assert again["validation_pairs"] == 0 and again["heldout_margin_after"] is None  # nothing held back
