"""Perplexity of the model on the reference answers (local models only).

Per example: the mean token loss of the reference answer (plus end of turn)
after the prompt in the model's chat template; the corpus score is
exp(mean loss), so paired tests can resample the per-example losses.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import polars as pl

from workbench.components import Metric
from workbench.evaluation.result import MetricResult, skipped


@lru_cache(maxsize=2)
def _loaded(model_ref: str) -> tuple[Any, Any]:
    from workbench.lm.models import load_causal_lm

    return load_causal_lm(model_ref, padding_side="right")


def reference_loss(model: Any, tokenizer: Any, conversation: list[dict], reference: str) -> float:
    """Mean cross-entropy (nats per token) of ``reference`` as the assistant's answer."""
    import torch

    prompt = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True)
    answer = tokenizer(reference + (tokenizer.eos_token or ""), add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + answer], device=next(model.parameters()).device)
    labels = ids.clone()
    labels[0, :len(prompt)] = -100
    with torch.inference_mode():
        return float(model(input_ids=ids, labels=labels).loss)


class Perplexity(Metric):
    name = "perplexity"
    description = "exp(mean loss) of the reference answers under the model (lower is better; local models)"
    requires = ("model", "prompt", "reference")

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        refs = set(frame["model"].unique().to_list())
        if len(refs) != 1:
            raise ValueError(f"perplexity scores one model at a time, the frame holds {len(refs)}")
        ref = refs.pop()
        if ref.startswith("openai:"):
            return skipped(self.name, "remote models do not expose token losses", higher_is_better=False)
        if ref.startswith("answers:"):
            return skipped(self.name, "saved answers come without a model to score them", higher_is_better=False)
        model, tok = _loaded(ref)
        losses = [reference_loss(model, tok, json.loads(p), r or "") for p, r in zip(frame["prompt"], frame["reference"])]
        mean_loss = sum(losses) / len(losses) if losses else None
        return MetricResult(self.name, math.exp(mean_loss) if mean_loss is not None else None, losses,
                            aggregate="exp_mean", higher_is_better=False,
                            details={"mean_loss": mean_loss, "per_example": "loss in nats per token"})


METRICS = (Perplexity,)
