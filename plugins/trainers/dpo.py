"""The ``hf-dpo`` trainer: preference tuning (DPO) of a chat model with LoRA, on TRL's ``DPOTrainer``.

Reads preference rows (messages ending with the chosen answer, the rejected
one in ``meta.rejected``: what the ``feedback`` load component and
``workbench feedback export`` write) of the train split. The reference model
is the model being improved: with a LoRA adapter, TRL scores the reference
with the adapter switched off, so no second copy is loaded.

Conventions of ``hf-causal-lm`` where TRL has them: ``checkpoints/`` (a
restarted step resumes from the latest), ``tensorboard/``, validation on the
validation split with early stopping and the best weights restored, the
``model`` artifact (the adapter; ``merge = true`` writes a merged model).
The figure that says whether it worked: the mean log-probability margin
log p(chosen) - log p(rejected) on the held-back validation pairs, before and
after training (stats ``heldout_margin_before`` / ``heldout_margin_after``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field

from workbench.components import Trainer
from workbench.context import StepContext
from workbench.ledger import StepResult
from workbench.training.options import LoopOptions


class DPOOptions(LoopOptions):
    model: str = Field(default="smollm2", description="Model to improve: 'smollm2', a local folder or a run's model")
    epochs: int = Field(default=1, ge=1, description="Passes over the preference pairs (when max_steps is 0)")
    batch_size: int = Field(default=2, ge=1, description="Pairs per micro-batch")
    learning_rate: float = Field(default=5e-5, gt=0, description="Peak learning rate of the LoRA weights")
    beta: float = Field(default=0.1, gt=0, description="DPO's beta: how far the model may move from the reference")
    lora_r: int = Field(default=8, ge=1, description="LoRA rank")
    lora_alpha: int = Field(default=16, ge=1, description="LoRA scaling")
    lora_dropout: float = Field(default=0.0, ge=0, lt=1, description="Dropout on the LoRA path")
    max_length: int = Field(default=1024, ge=16, description="Longest prompt + answer in tokens (longer: truncated)")
    merge: bool = Field(default=False, description="Save the model with the adapter merged in (default: the adapter)")


def preference_rows(table: pl.DataFrame, split: str) -> list[dict[str, Any]]:
    """TRL's conversational preference format from the canonical preference rows of one split."""
    from workbench.feedback.export import pair_fields

    out = []
    for row in table.filter(pl.col("split") == split).to_dicts():
        prompt, chosen, rejected = pair_fields(row)
        out.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}]})
    return out


def answer_logprob(model: Any, tok: Any, prompt: list[dict[str, str]], answer: str) -> float:
    """log p(answer | prompt) under the model's chat template (the answer's tokens only)."""
    import torch

    head = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
    full = tok.apply_chat_template([*prompt, {"role": "assistant", "content": answer}], tokenize=True)
    ids = torch.tensor([full], device=next(model.parameters()).device)
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, :-1].float()
    logp = torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None])[:, 0]
    return float(logp[len(head) - 1:].sum())


def heldout_margin(model: Any, tok: Any, pairs: list[dict[str, Any]]) -> float | None:
    """Mean log p(chosen) - log p(rejected) over the pairs (None without pairs)."""
    if not pairs:
        return None
    margins = [answer_logprob(model, tok, p["prompt"], p["chosen"][0]["content"])
               - answer_logprob(model, tok, p["prompt"], p["rejected"][0]["content"]) for p in pairs]
    return sum(margins) / len(margins)


class DPOTrainer(Trainer):
    name = "hf-dpo"
    description = "Preference-tune a chat model (DPO, LoRA) on chosen/rejected pairs, e.g. from testers' feedback"
    version = "1"
    Options = DPOOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        from workbench.errors import WorkbenchError

        o = self.options
        if o.scheduler == "step":
            raise WorkbenchError("hf-dpo: scheduler 'step' is not available with TRL",
                                 hint="use linear, cosine or constant")
        train_pairs, val_pairs = preference_rows(table, "train"), preference_rows(table, "validation")
        if not train_pairs:
            raise WorkbenchError("hf-dpo: the table has no preference rows with split = 'train'",
                                 hint='load them with kind = "load", component = "feedback", rows = "preferences", '
                                      "then add a split step")
        stats = self._train(train_pairs, val_pairs, ctx)
        return StepResult(table, stats=stats, artifacts={"model": "model", "tensorboard": "tensorboard"})

    def _train(self, train_pairs: list[dict[str, Any]], val_pairs: list[dict[str, Any]],
               ctx: StepContext) -> dict[str, Any]:
        import torch
        from datasets import Dataset
        from peft import LoraConfig
        from transformers import PrinterCallback
        from transformers.trainer_utils import get_last_checkpoint
        from trl import DPOConfig
        from trl import DPOTrainer as TrlDPOTrainer

        from workbench.lm.device import free_cores
        from workbench.lm.models import load_causal_lm

        o = self.options
        torch.set_num_threads(o.threads or free_cores())
        seed = ctx.seed if o.seed is None else o.seed
        torch.manual_seed(seed)
        model, tok = load_causal_lm(o.model, device=o.device, padding_side="right")
        before = heldout_margin(model, tok, val_pairs)
        steps_per_epoch = math.ceil(len(train_pairs) / (o.batch_size * o.grad_accum))
        total = o.max_steps or steps_per_epoch * o.epochs
        eval_every = o.eval_every or max(1, steps_per_epoch // 4)
        validate = bool(val_pairs)
        restore = validate and o.restore_best
        save_every = o.checkpoint_every or total
        if restore:  # the best weights can only be restored from a checkpoint taken at a validation
            save_every = eval_every * math.ceil(save_every / eval_every)
        checkpoints = ctx.step_dir / "checkpoints"
        args = DPOConfig(
            output_dir=str(checkpoints), logging_dir=str(ctx.step_dir / "tensorboard"), report_to=["tensorboard"],
            per_device_train_batch_size=o.batch_size, per_device_eval_batch_size=o.batch_size,
            gradient_accumulation_steps=o.grad_accum, num_train_epochs=o.epochs, max_steps=o.max_steps or -1,
            learning_rate=o.learning_rate, lr_scheduler_type=o.scheduler, warmup_steps=o.warmup_steps,
            max_grad_norm=o.max_grad_norm or 1e9, seed=seed, beta=o.beta, max_length=o.max_length,
            eval_strategy="steps" if validate else "no", eval_steps=eval_every,
            save_strategy="steps" if o.checkpoint_every or restore else "no", save_steps=save_every,
            save_total_limit=o.keep_checkpoints, load_best_model_at_end=restore,
            metric_for_best_model="eval_loss" if restore else None, greater_is_better=False if restore else None,
            logging_steps=1, use_cpu=o.device == "cpu" or not torch.cuda.is_available(),
            bf16=torch.cuda.is_available() and o.device != "cpu", disable_tqdm=True, dataset_num_proc=None,
            remove_unused_columns=False)
        callbacks: list[Any] = [progress_callback(ctx, total)]
        if validate and o.early_stopping_patience:
            callbacks.append(plateau_callback(o.early_stopping_patience, o.early_stopping_min_delta))
        trainer = TrlDPOTrainer(
            model=model, ref_model=None, args=args, processing_class=tok,
            train_dataset=Dataset.from_list(train_pairs), eval_dataset=Dataset.from_list(val_pairs) if validate else None,
            peft_config=LoraConfig(r=o.lora_r, lora_alpha=o.lora_alpha, lora_dropout=o.lora_dropout,
                                   target_modules="all-linear", task_type="CAUSAL_LM"),
            callbacks=callbacks)
        trainer.remove_callback(PrinterCallback)  # progress goes to ctx.progress, not as dicts on stdout
        resume = get_last_checkpoint(str(checkpoints)) if checkpoints.exists() else None
        result = trainer.train(resume_from_checkpoint=resume)
        if ctx.cancelled():
            from workbench.training.runner import TrainingCancelled

            raise TrainingCancelled(f"hf-dpo cancelled at step {trainer.state.global_step}")
        tuned = trainer.model.eval()
        after = heldout_margin(tuned, tok, val_pairs)
        out = ctx.step_dir / "model"
        (tuned.merge_and_unload() if o.merge else tuned).save_pretrained(out)
        tok.save_pretrained(out)
        history = trainer.state.log_history
        return {"train_pairs": len(train_pairs), "validation_pairs": len(val_pairs), "steps": trainer.state.global_step,
                "train_loss": result.training_loss, "resumed_from": Path(resume).name if resume else None,
                "heldout_margin_before": before, "heldout_margin_after": after,
                "best_eval_loss": trainer.state.best_metric,
                "final_reward_accuracy": next((h["rewards/accuracies"] for h in reversed(history)
                                               if "rewards/accuracies" in h), None),
                "merged": o.merge}


def progress_callback(ctx: StepContext, total: int) -> Any:
    """A TRL callback: the step's progress bar (with the loss), and a stop when the run is cancelled."""
    from transformers import TrainerCallback

    class Callback(TrainerCallback):
        def __init__(self) -> None:
            self.bar = ctx.progress(total, "hf-dpo")

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            self.bar.update(1)
            control.should_training_stop = control.should_training_stop or ctx.cancelled()
            return control

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                self.bar.info.update(train_loss=logs["loss"], step=state.global_step)

    return Callback()


def plateau_callback(patience: int, min_delta: float) -> Any:
    """A TRL callback that stops on the shared loop's plateau rule (:meth:`LoopState.observe`), so
    ``early_stopping_min_delta`` means the same relative drop here as in every other local trainer."""
    from transformers import TrainerCallback

    from workbench.training.runner import LoopState

    class Callback(TrainerCallback):
        def __init__(self) -> None:
            self.plateau = LoopState()

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None,
                        **kw: Any) -> Any:
            self.plateau.step = state.global_step
            self.plateau.observe((metrics or {}).get("eval_loss"), min_delta, patience)
            control.should_training_stop = control.should_training_stop or self.plateau.stopped_early
            return control

    return Callback()
