"""The ``hf-classifier`` trainer: an encoder plus a new classification head on ``label``.

For label tasks (intent, sentiment) a small encoder is faster and better than
prompting a chat model. The default encoder is the embedded MiniLM; the head
is new, so it gets its own, larger learning rate (discriminative rates), and
the lower encoder layers can be frozen. The step loop is the chat trainer's
(:class:`workbench.training.runner.Runner`): checkpoints, resume after a kill,
early stopping on validation loss, progress, cancellation and ``accelerate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from pydantic import Field

from workbench.components import Trainer, form
from workbench.context import StepContext
from workbench.errors import WorkbenchError
from workbench.ledger import StepResult
from workbench.training.options import LoopOptions
from workbench.training.runner import Runner, loss_module


class ClassifierOptions(LoopOptions):
    model: str = Field(default="minilm", description="Encoder: 'minilm' (embedded) or a local transformers folder")
    text_roles: list[str] = Field(default=["user"], description="Turns whose text is classified")
    epochs: int = Field(default=4, ge=1, description="Passes over the training split (ignored when max_steps > 0)")
    batch_size: int = Field(default=32, ge=1, description="Examples per micro-batch (per process)")
    learning_rate: float = Field(default=5e-5, gt=0, description="Learning rate of the pretrained encoder")
    head_learning_rate: float = Field(default=2e-3, gt=0, description="Learning rate of the new head")
    freeze_layers: int = Field(default=0, ge=0, description="Freeze the embeddings and the lowest N encoder layers")
    max_length: int = Field(default=128, ge=8, description="Longest input in tokens")
    weight_decay: float = Field(default=0.01, ge=0, description="AdamW weight decay")

    form_layout: ClassVar[dict[str, dict[str, Any]]] = {
        "learning_rate": form(scale="log"), "head_learning_rate": form("optimisation", scale="log"),
        "weight_decay": form("optimisation"), "freeze_layers": form("optimisation", advanced=True),
    }


def texts_and_labels(table: pl.DataFrame, split: str, roles: list[str]) -> tuple[list[str], list[str]]:
    from workbench.schema import message_text

    rows = table.filter((pl.col("split") == split) & pl.col("label").is_not_null()).select("messages", "label").to_dicts()
    return [message_text(r["messages"], roles) for r in rows], [r["label"] for r in rows]


@dataclass
class Labelled:
    input_ids: list[int]
    label: int


def label_loss(model: Any, input_ids: Any, attention_mask: Any, labels: Any) -> tuple[Any, Any]:
    """Summed cross-entropy over the batch and its number of examples (the runner's loss contract)."""
    import torch

    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
    return torch.nn.functional.cross_entropy(logits, labels, reduction="sum"), labels.new_tensor(len(labels))


def trainable_groups(model: Any, opts: ClassifierOptions) -> list[dict[str, Any]]:
    """Freeze the embeddings and lowest layers; the encoder and the new head get their own rates."""
    from workbench.training.methods import layer_index

    head: list[Any] = []  # parameters (torch tensors)
    body: list[Any] = []
    for name, param in model.named_parameters():
        layer = layer_index(name)
        frozen = opts.freeze_layers and ("embeddings" in name or (layer is not None and layer < opts.freeze_layers))
        param.requires_grad = not frozen
        if not frozen:
            (body if name.startswith(model.base_model_prefix) else head).append(param)
    return [{"params": body, "lr": opts.learning_rate, "weight_decay": opts.weight_decay},
            {"params": head, "lr": opts.head_learning_rate, "weight_decay": opts.weight_decay}]


class EncoderRun(Runner):
    """Sequence classification: one loss term per example, shuffled batches padded to their longest."""

    desc = "train classifier"

    def __init__(self, opts: ClassifierOptions, ctx: Any, train: tuple[list[str], list[str]],
                 validation: tuple[list[str], list[str]]) -> None:
        from transformers import AutoTokenizer

        from workbench.lm.embedded import resolve_model_path

        super().__init__(opts, ctx.step_dir, seed=ctx.seed if opts.seed is None else opts.seed, progress=ctx.progress,
                         cancelled=ctx.cancelled, log=ctx.log)
        self.names = sorted(set(train[1]))
        index = {n: i for i, n in enumerate(self.names)}
        self.path = resolve_model_path(opts.model)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        model = self.fresh_model()
        self.train_ex = self.encode(*train, index)
        self.val_ex = self.encode(*validation, index)
        self.validation_rows = len(validation[0])  # rows whose label never occurs in train count as wrong
        self.setup(model.train(), loss_module(model, label_loss), trainable_groups(model, opts), "random")

    def fresh_model(self) -> Any:
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification.from_pretrained(
            self.path, num_labels=len(self.names), id2label=dict(enumerate(self.names)),
            label2id={n: i for i, n in enumerate(self.names)})

    def encode(self, texts: list[str], labels: list[str], index: dict[str, int]) -> list[Labelled]:
        known = [(t, index[label]) for t, label in zip(texts, labels) if label in index]
        ids = self.tokenizer([t for t, _ in known], truncation=True, max_length=self.opts.max_length)["input_ids"]
        return [Labelled(i, label) for i, (_, label) in zip(ids, known)]

    def collate(self, examples: Sequence[Labelled]) -> dict[str, Any]:
        import torch

        width = max(len(e.input_ids) for e in examples)
        ids = torch.full((len(examples), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(examples), width), dtype=torch.long)
        for row, e in enumerate(examples):
            ids[row, :len(e.input_ids)] = torch.tensor(e.input_ids)
            mask[row, :len(e.input_ids)] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([e.label for e in examples])}

    def accuracy(self, model: Any) -> float | None:
        import torch

        if not self.validation_rows:
            return None
        model.eval()
        right = 0
        with torch.no_grad():
            for start in range(0, len(self.val_ex), 64):
                batch = self.batch(self.val_ex, range(start, min(start + 64, len(self.val_ex))))
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
                right += int((logits.argmax(-1) == batch["labels"]).sum())
        return right / self.validation_rows

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "labels": self.names, "validation_examples": self.validation_rows}

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        return {"validation_accuracy": self.accuracy(model)}


class ClassifierTrainer(Trainer):
    name = "hf-classifier"
    description = "Train an encoder with a new classification head on the label column"
    version = "2"
    Options = ClassifierOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        o = self.options
        train = texts_and_labels(table, "train", o.text_roles)
        if not train[0]:
            raise WorkbenchError("no training rows with a label", hint="the classifier needs split = 'train' rows with a label")
        run = EncoderRun(o, ctx, train, texts_and_labels(table, "validation", o.text_roles))
        run.resume()
        run.fit()
        stats = run.finish(save=True)
        return StepResult(table, stats=stats, artifacts={"model": "model", "tensorboard": "tensorboard"})
