"""Generations cached in the run folder, keyed by model, prompt and decoding.

Re-running an evaluation or a report does not regenerate: each answer is
stored under a hash of (model reference, model fingerprint, prompt, decoding
settings except the batch size and token budget, which do not change greedy outputs). The
fingerprint follows the model's weight files, so a retrained model at the same
path is generated afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from workbench.generation import DecodeSettings, Generation

WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors", "pytorch_model.bin", "adapter_model.bin")


def model_fingerprint(ref: str) -> str:
    """Sizes and modification times of a local model's weights (the ref itself otherwise)."""
    p = Path(ref)
    files = [p] if p.is_file() else [p / f for f in WEIGHT_FILES if (p / f).exists()] if p.is_dir() else []
    return ";".join(f"{f.name}:{f.stat().st_size}:{int(f.stat().st_mtime)}" for f in files) or ref


def generation_key(ref: str, prompt: Sequence[dict[str, Any]], settings: DecodeSettings) -> str:
    decoding = settings.model_dump(exclude={"batch_size", "max_batch_tokens"})
    payload = json.dumps([ref, model_fingerprint(ref), list(prompt), decoding], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class GenerationCache:
    """An append-only JSONL file of generations under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "generations.jsonl"
        self._entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self._entries[entry["key"]] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Generation | None:
        e = self._entries.get(key)
        return Generation(e["text"], e["latency_s"], e["new_tokens"]) if e else None

    def put(self, items: dict[str, Generation], model: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            for key, g in items.items():
                entry = {"key": key, "model": model, "text": g.text, "latency_s": g.latency_s, "new_tokens": g.new_tokens}
                self._entries[key] = entry
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def generate_cached(model: Any, prompts: Sequence[list[dict[str, Any]]], settings: DecodeSettings,
                    cache: GenerationCache, on_batch: Callable[[int], None] | None = None) -> tuple[list[Generation], int]:
    """Answers for ``prompts`` from the cache, generating only the missing ones.

    Returns the generations in prompt order and how many were generated now.
    """
    keys = [generation_key(model.name, p, settings) for p in prompts]
    missing = sorted({k: i for i, k in enumerate(keys) if cache.get(k) is None}.values())
    if missing:
        fresh = model.chat([prompts[i] for i in missing], settings, on_batch=on_batch)
        cache.put({keys[i]: g for i, g in zip(missing, fresh)}, model.name)
    return [cache.get(k) for k in keys], len(missing)  # type: ignore[misc]
