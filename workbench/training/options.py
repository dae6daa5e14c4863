"""Options of the local trainers: every hyperparameter, with quick, good defaults.

:class:`LoopOptions` holds what the shared step loop reads (schedule,
checkpoints, early stopping, device), so both trainers accept the same names.

The defaults train SmolLM2-135M with LoRA on a few hundred support
conversations in a few minutes on a 2-core CPU (see docs/training.md for the
measured figures); the same options work on a GPU, where bf16 is used.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from workbench.components import Options, form


class LoopOptions(Options):
    """Options of the shared step loop (:mod:`workbench.training.runner`), common to every local trainer."""

    max_steps: int = Field(default=0, ge=0, description="Optimiser steps to train; 0 = use epochs")
    grad_accum: int = Field(default=1, ge=1, description="Micro-batches per optimiser step")
    warmup_steps: int = Field(default=5, ge=0, description="Linear warm-up steps")
    scheduler: Literal["linear", "cosine", "step", "constant"] = Field(
        default="cosine", description="Learning-rate schedule after warm-up")
    step_every: int = Field(default=50, ge=1, description="step scheduler: multiply the rate by step_gamma every N steps")
    step_gamma: float = Field(default=0.5, gt=0, le=1, description="step scheduler: factor applied every step_every steps")
    max_grad_norm: float = Field(default=1.0, ge=0, description="Gradient clipping norm (0 = off)")
    seed: int | None = Field(default=None, description="Seed for data order and initialisation (default: the run's seed)")
    eval_every: int = Field(default=0, ge=0, description="Validate every N optimiser steps (0 = auto: 4 times per epoch)")
    early_stopping_patience: int = Field(
        default=3, ge=0, description="Stop after this many validations without improvement (0 = off)")
    early_stopping_min_delta: float = Field(
        default=0.01, ge=0, le=1, description="Smallest relative validation-loss drop that counts as an improvement "
                                              "(0.01 = 1% below the loss of the last improvement)")
    restore_best: bool = Field(default=True, description="Save the weights of the best validation loss, not the last")
    checkpoint_every: int = Field(default=25, ge=0, description="Checkpoint every N optimiser steps (0 = never)")
    keep_checkpoints: int = Field(default=2, ge=1, description="How many checkpoints to keep")
    threads: int = Field(default=0, ge=0, description="CPU threads for torch (0 = every core other processes do not "
                                                         "keep busy right now: oversubscribed threads stall each other)")
    device: Literal["auto", "cuda", "cpu"] = Field(default="auto", description="auto = CUDA with bf16 when present")

    form_layout: ClassVar[dict[str, dict[str, Any]]] = {
        **dict.fromkeys(("grad_accum", "warmup_steps", "scheduler"), form("optimisation")),
        **dict.fromkeys(("step_every", "step_gamma"), form("optimisation", when={"scheduler": "step"})),
        "max_grad_norm": form("optimisation", advanced=True),
        **dict.fromkeys(("eval_every", "early_stopping_patience", "early_stopping_min_delta", "restore_best"),
                        form("evaluation")),
        **dict.fromkeys(("checkpoint_every", "keep_checkpoints"), form("checkpoints")),
        **dict.fromkeys(("seed", "threads", "device"), form("advanced", advanced=True)),
    }

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Forms show a trainer's own options (model, method, ...) before these shared ones."""
        schema = super().model_json_schema(*args, **kwargs)
        shared = set(LoopOptions.model_fields)
        schema["properties"] = dict(sorted(schema["properties"].items(), key=lambda kv: kv[0] in shared))
        return schema


class CausalLMOptions(LoopOptions):
    model: str = Field(default="smollm2", description="Base model: 'smollm2', a local folder, a .gguf file or a hub id")
    method: Literal["lora", "full", "head"] = Field(
        default="lora", description="lora: low-rank adapters; full: all weights; head: only the output head")
    merge: bool = Field(default=True, description="LoRA: merge adapters into the saved model (false keeps an adapter folder)")
    lora_r: int = Field(default=16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(default=32, ge=1, description="LoRA scaling alpha (scale = alpha / rank)")
    lora_dropout: float = Field(default=0.0, ge=0, lt=1, description="Dropout on the LoRA branch")
    lora_targets: list[str] = Field(default=["all-linear"],
                                    description="Module names LoRA adapts ('all-linear' = every linear layer but the head)")
    freeze_layers: int | None = Field(
        default=None, ge=0, description="Freeze the embeddings and the lowest N transformer layers (empty = auto: "
                                        "the lower half with lora, none with full or head)")
    new_head: bool = Field(default=False, description="head: start from a freshly initialised, untied output head")
    learning_rate: float = Field(default=5e-4, gt=0, description="Peak learning rate")
    rehearsal: float = Field(
        default=0.1, ge=0, lt=1,
        description="Guard against forgetting: general prompts (a packaged set, apart from the forgetting probes) "
                    "answered by the base model, mixed in as this share of the training rows (0 = off)")
    decision_weight: float = Field(
        default=4.0, ge=1,
        description="Loss weight of the answer tokens where training answers of different intents (the rows' "
                    "label) part, e.g. the first words after a shared greeting; 1 = every answer token alike")
    head_learning_rate: float | None = Field(
        default=None, gt=0, description="Learning rate of the output head (discriminative rates; default: learning_rate)")
    layer_lr_decay: float = Field(default=1.0, gt=0, le=1,
                                  description="Each layer below the top gets its rate multiplied by this (1 = same rate)")
    epochs: float | None = Field(
        default=None, gt=0, description="Passes over the training split (empty = auto from its size: 3, more for "
                                        "small sets, fewer for large ones; ignored when max_steps > 0)")
    batch_size: int = Field(default=8, ge=1, description="Examples per micro-batch (per process)")
    weight_decay: float = Field(default=0.0, ge=0, description="AdamW weight decay")
    max_batch_tokens: int = Field(
        default=1024, ge=8, description="Memory cap: a micro-batch over this many padded tokens runs in chunks "
                                        "(same result, less memory)")
    max_length: int = Field(default=512, ge=8, description="Longest example in tokens; longer ones are truncated")
    batching: Literal["length-grouped", "random", "padded"] = Field(
        default="length-grouped",
        description="length-grouped: similar lengths together, padded to the batch's longest; random: shuffled, "
                    "padded to the batch's longest; padded: every example padded to max_length (the naive recipe)")
    dropout: float | None = Field(default=None, ge=0, lt=1, description="Override the model's attention/hidden dropout")
    warmup_probe_steps: int = Field(default=2, ge=0,
                                    description="Pre-flight: measured steps used to estimate time (0 = skip)")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="Grid search: option -> values, e.g. {learning_rate = [5e-4, 1e-3], lora_r = [8, 16]}; "
                    "each combination trains in a sub-run, the best by validation loss becomes the model")

    form_layout: ClassVar[dict[str, dict[str, Any]]] = {
        **dict.fromkeys(("merge", "lora_r", "lora_alpha", "lora_dropout", "lora_targets"),
                        form("lora", when={"method": "lora"})),
        "new_head": form(when={"method": "head"}),
        "learning_rate": form(scale="log"),
        "head_learning_rate": form("optimisation", advanced=True, scale="log"),
        **dict.fromkeys(("weight_decay", "rehearsal", "decision_weight"), form("optimisation")),
        **dict.fromkeys(("freeze_layers", "layer_lr_decay", "dropout"), form("optimisation", advanced=True)),
        **dict.fromkeys(("max_batch_tokens", "batching", "warmup_probe_steps", "grid"), form("advanced", advanced=True)),
    }

    @model_validator(mode="after")
    def _grid_names_are_options(self) -> CausalLMOptions:
        unknown = sorted(set(self.grid) - set(type(self).model_fields) | ({"grid"} & set(self.grid)))
        if unknown:
            raise ValueError(f"grid names unknown options: {', '.join(unknown)}")
        for name, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"grid option {name!r} needs a non-empty list of values")
        return self
