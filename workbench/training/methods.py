"""Fine-tuning methods: which weights train, at which rate, and how they are saved.

- ``lora``: peft adapters on the chosen linear layers; saved merged into a
  plain transformers folder, or as an adapter folder (``merge = false``).
- ``full``: every weight (minus frozen lower layers).
- ``head``: only the output head, untied from the input embeddings (and
  freshly initialised with ``new_head``).

``freeze_layers`` freezes the embeddings and the lowest N layers for any
method; besides saving memory it shortens the backward pass, which stops at
the lowest trainable layer. Unset, LoRA freezes the lower half: the lower
layers' features generalise to new phrasings, and adapting them fits the
training phrasings instead (docs/training.md, *Frozen lower half*).

Discriminative rates: ``layer_lr_decay`` scales each layer's rate by its
distance from the top, ``head_learning_rate`` sets the head's own rate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

_LAYER = re.compile(r"\.layers\.(\d+)\.")


def layer_index(param_name: str) -> int | None:
    match = _LAYER.search(param_name)
    return int(match.group(1)) if match else None


def num_layers(model: Any) -> int:
    return int(getattr(model.config, "num_hidden_layers", 0) or 0)


def frozen_layers(opts: Any, n_layers: int) -> int:
    """How many of the lowest layers stay frozen: the option, or by default the lower half with LoRA."""
    if opts.freeze_layers is not None:
        return int(opts.freeze_layers)
    return n_layers // 2 if opts.method == "lora" else 0


def untie_head(model: Any, reinit: bool) -> None:
    """Give the model its own output head (a copy of the tied embeddings, or fresh)."""
    import torch

    head = model.get_output_embeddings()
    weight = head.weight.detach().clone()
    if reinit:
        torch.nn.init.normal_(weight, std=getattr(model.config, "initializer_range", 0.02))
    head.weight = torch.nn.Parameter(weight)
    model.config.tie_word_embeddings = False
    if hasattr(model, "_tied_weights_keys"):
        model._tied_weights_keys = []


def set_dropout(model: Any, p: float) -> None:
    """Override attention and hidden dropout throughout the model."""
    import torch

    model.config.attention_dropout = p
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout) and "lora" not in type(module).__module__:
            module.p = p
        if hasattr(module, "attention_dropout"):
            module.attention_dropout = p


def prepare_model(model: Any, opts: Any) -> Any:
    """Apply the method and freezing to ``model``; return the model to train."""
    if opts.dropout is not None:
        set_dropout(model, opts.dropout)
    n_layers = num_layers(model)
    frozen = frozen_layers(opts, n_layers)
    if frozen > n_layers:
        raise WorkbenchError(f"freeze_layers = {frozen} but the model has only {n_layers} layers")
    if opts.method == "head" or opts.new_head:
        untie_head(model, reinit=opts.new_head)
    if opts.method == "lora":
        from peft import LoraConfig, get_peft_model

        targets: Any = opts.lora_targets
        if targets == ["all-linear"]:
            targets = "all-linear"
        config = LoraConfig(r=opts.lora_r, lora_alpha=opts.lora_alpha, lora_dropout=opts.lora_dropout,
                            target_modules=targets, task_type="CAUSAL_LM",
                            modules_to_save=["lm_head"] if opts.new_head else None)
        try:
            model = get_peft_model(model, config)
        except ValueError as exc:
            raise WorkbenchError(f"LoRA could not be applied: {exc}", hint="check lora_targets against the model's module names") from exc
    head_params = {id(p) for p in model.get_output_embeddings().parameters()}
    for name, param in model.named_parameters():
        if opts.method == "head":
            param.requires_grad = id(param) in head_params
        elif opts.method == "full":
            param.requires_grad = True
        if frozen and id(param) not in head_params:
            layer = layer_index(name)
            if layer is None and "embed" in name or layer is not None and layer < frozen:
                param.requires_grad = False
    if not any(p.requires_grad for p in model.parameters()):
        raise WorkbenchError("nothing left to train: every weight is frozen", hint="lower freeze_layers")
    return model


def param_groups(model: Any, opts: Any) -> list[dict[str, Any]]:
    """Optimiser groups with discriminative learning rates and weight decay."""
    top = num_layers(model)
    head_params = {id(p) for p in model.get_output_embeddings().parameters()}
    groups: dict[tuple[float, float], list[Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if id(param) in head_params or "lm_head" in name:
            lr = opts.head_learning_rate or opts.learning_rate
        else:
            layer = layer_index(name)
            depth = top - layer if layer is not None else (0 if "norm" in name else top + 1)
            lr = opts.learning_rate * opts.layer_lr_decay ** max(depth - 1, 0)
        decay = 0.0 if param.ndim < 2 else opts.weight_decay
        groups.setdefault((lr, decay), []).append(param)
    return [{"params": ps, "lr": lr, "weight_decay": wd} for (lr, wd), ps in groups.items()]


def trainable_state(model: Any) -> dict[str, Any]:
    """The trainable tensors (on CPU): all a checkpoint needs besides the base model."""
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, Any]) -> None:
    import torch

    params = dict(model.named_parameters())
    missing = sorted(set(state) - set(params))
    if missing:
        raise WorkbenchError(f"checkpoint does not match the model: unknown weights {missing[:3]}",
                             hint="the options changed since the checkpoint; delete the step's .partial folder")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def save_model(model: Any, tokenizer: Any, folder: Path, *, merge: bool) -> str:
    """Save a folder ``workbench.lm.models.load_causal_lm`` can load; returns its kind."""
    folder.mkdir(parents=True, exist_ok=True)
    kind = "full"
    if hasattr(model, "peft_config"):
        if merge:
            model = model.merge_and_unload()
            kind = "merged"
        else:
            kind = "adapter"
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    (folder / "tokenizer.model").unlink(missing_ok=True)
    return kind
