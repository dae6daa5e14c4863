"""The ``hf-classifier`` trainer: an encoder plus a new classification head on ``label``.

For label tasks (intent, sentiment) a small encoder is faster and better than
prompting a chat model. The default encoder is the embedded MiniLM; the head
is new, so it gets its own, larger learning rate (discriminative rates), and
the lower encoder layers can be frozen.
"""

from __future__ import annotations

import json
import random
from typing import Any

import polars as pl
from pydantic import Field

from workbench.components import Options, Trainer
from workbench.errors import WorkbenchError
from workbench.ledger import StepResult


class ClassifierOptions(Options):
    model: str = Field(default="minilm", description="Encoder: 'minilm' (embedded) or a local transformers folder")
    text_roles: list[str] = Field(default=["user"], description="Turns whose text is classified")
    epochs: int = Field(default=4, ge=1, description="Passes over the training split")
    batch_size: int = Field(default=32, ge=1, description="Examples per batch")
    learning_rate: float = Field(default=5e-5, gt=0, description="Learning rate of the pretrained encoder")
    head_learning_rate: float = Field(default=2e-3, gt=0, description="Learning rate of the new head")
    freeze_layers: int = Field(default=0, ge=0, description="Freeze the embeddings and the lowest N encoder layers")
    max_length: int = Field(default=128, ge=8, description="Longest input in tokens")
    weight_decay: float = Field(default=0.01, ge=0, description="AdamW weight decay")
    seed: int | None = Field(default=None, description="Seed (default: the run's seed)")


def texts_and_labels(table: pl.DataFrame, split: str, roles: list[str]) -> tuple[list[str], list[str]]:
    from workbench.schema import message_text

    rows = table.filter((pl.col("split") == split) & pl.col("label").is_not_null()).select("messages", "label").to_dicts()
    return [message_text(r["messages"], roles) for r in rows], [r["label"] for r in rows]


class ClassifierTrainer(Trainer):
    name = "hf-classifier"
    description = "Train an encoder with a new classification head on the label column"
    version = "1"
    Options = ClassifierOptions

    def run(self, table: pl.DataFrame, ctx) -> StepResult:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from workbench.embedded import resolve_model_path
        from workbench.training.methods import layer_index

        o = self.options
        torch.manual_seed(ctx.seed if o.seed is None else o.seed)
        texts, labels = texts_and_labels(table, "train", o.text_roles)
        val_texts, val_labels = texts_and_labels(table, "validation", o.text_roles)
        if not texts:
            raise WorkbenchError("no training rows with a label", hint="the classifier needs split = 'train' rows with a label")
        names = sorted(set(labels))
        index = {n: i for i, n in enumerate(names)}
        path = resolve_model_path(o.model)
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=len(names), id2label=dict(enumerate(names)), label2id=index)
        head, body = [], []
        for name, param in model.named_parameters():
            layer = layer_index(name)
            frozen = o.freeze_layers and ("embeddings" in name or (layer is not None and layer < o.freeze_layers))
            param.requires_grad = not frozen
            if not frozen:
                (body if name.startswith(model.base_model_prefix) else head).append(param)
        optimizer = torch.optim.AdamW([{"params": body, "lr": o.learning_rate}, {"params": head, "lr": o.head_learning_rate}],
                                      weight_decay=o.weight_decay)
        rng = random.Random(ctx.seed)
        order = list(range(len(texts)))
        steps = o.epochs * -(-len(texts) // o.batch_size)
        history = []
        model.train()
        with ctx.progress(steps, "train classifier") as bar:
            for epoch in range(o.epochs):
                rng.shuffle(order)
                for start in range(0, len(order), o.batch_size):
                    idx = order[start:start + o.batch_size]
                    batch = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=o.max_length,
                                return_tensors="pt")
                    loss = model(**batch, labels=torch.tensor([index[labels[i]] for i in idx])).loss
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad()
                    history.append(float(loss.detach()))
                    bar.update(1, loss=history[-1])
                    if ctx.cancelled():
                        raise KeyboardInterrupt("classifier training cancelled")
        accuracy = self._accuracy(model, tok, val_texts, [index.get(v, -1) for v in val_labels])
        model.save_pretrained(ctx.step_dir / "model")
        tok.save_pretrained(ctx.step_dir / "model")
        (ctx.step_dir / "history.json").write_text(json.dumps(history))
        stats: dict[str, Any] = {"labels": names, "train_examples": len(texts), "validation_examples": len(val_texts),
                                 "steps": steps, "final_train_loss": history[-1], "validation_accuracy": accuracy}
        return StepResult(table, stats=stats, artifacts={"model": "model"})

    def _accuracy(self, model: Any, tok: Any, texts: list[str], targets: list[int]) -> float | None:
        import torch

        if not texts:
            return None
        model.eval()
        right = 0
        with torch.no_grad():
            for start in range(0, len(texts), 64):
                batch = tok(texts[start:start + 64], padding=True, truncation=True, max_length=self.options.max_length,
                            return_tensors="pt")
                predicted = model(**batch).logits.argmax(-1).tolist()
                right += sum(p == t for p, t in zip(predicted, targets[start:start + 64]))
        return right / len(texts)
