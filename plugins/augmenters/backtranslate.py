"""Back-translation through local translation models (e.g. MarianMT folders).

English -> pivot -> English with two seq2seq models the user supplies as
local folders (``forward_model``: en->pivot, ``backward_model``: pivot->en,
for example Helsinki-NLP opus-mt-en-de and opus-mt-de-en saved locally).
Nothing is downloaded: without both folders the step stops and names what is
missing. Translation is batched and greedy (beam search optional).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from workbench.errors import WorkbenchError

from .base import TextAugmenter, TextAugmentOptions


class BackTranslateOptions(TextAugmentOptions):
    forward_model: str = Field(default="", description="Local folder of an English -> pivot translation model")
    backward_model: str = Field(default="", description="Local folder of a pivot -> English translation model")
    batch_size: int = Field(default=16, ge=1, description="Sentences translated together")
    num_beams: int = Field(default=1, ge=1, description="Beam width (1 = greedy)")
    max_new_tokens: int = Field(default=128, ge=1, description="Longest translation in tokens")
    sample: bool = Field(default=True, description="Sample the return trip so variants differ (seeded)")


class BackTranslate(TextAugmenter):
    name = "backtranslate"
    description = "English -> pivot -> English with local translation models (MarianMT folders)"
    Options = BackTranslateOptions

    def propose(self, texts: list[str], seeds: list[str], variant: int, ctx: Any) -> list[str]:
        o = self.options
        forward, backward = (model_folder(ctx, o.forward_model, "forward_model"),
                             model_folder(ctx, o.backward_model, "backward_model"))
        pivot = translate(forward, texts, o, seed=None)
        return translate(backward, pivot, o, seed=ctx.seed + variant if o.sample else None)


def model_folder(ctx: Any, value: str, option: str) -> Path:
    """The folder named by an option, or a WorkbenchError saying what is missing."""
    hint = (f"set {option} to a local translation model folder (for example a MarianMT model such as "
            "opus-mt-en-de / opus-mt-de-en saved with save_pretrained); nothing is downloaded")
    if not value:
        raise WorkbenchError(f"backtranslate needs {option}: no translation model given", hint=hint)
    folder = ctx.resolve(value)
    if not (folder / "config.json").is_file():
        raise WorkbenchError(f"backtranslate {option}: {folder} is not a model folder (no config.json)", hint=hint)
    return folder


def translate(folder: Path, texts: list[str], o: BackTranslateOptions, seed: int | None) -> list[str]:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from workbench.lm.device import pick_device

    device, _ = pick_device()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).to(device).eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = [""] * len(texts)
    if seed is not None:
        torch.manual_seed(seed)
    with torch.inference_mode():
        for start in range(0, len(order), o.batch_size):
            idx = order[start:start + o.batch_size]
            batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, truncation=True).to(device)
            ids = model.generate(**batch, max_new_tokens=o.max_new_tokens, num_beams=o.num_beams,
                                 do_sample=seed is not None, top_k=50 if seed is not None else None)
            for i, text in zip(idx, tokenizer.batch_decode(ids, skip_special_tokens=True)):
                out[i] = text.strip()
    return out
