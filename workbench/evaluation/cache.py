"""One generation cache per runs folder, keyed by model, prompt and decoding.

Every run in a runs folder shares ``runs/.cache/generations/generations.jsonl``
(:func:`shared_cache_dir`): the base model answers a dataset once, and a
second run, ``workbench evaluate`` or a re-rendered report take its answers
from there. Each answer is stored under a hash of (model reference, model
fingerprint, prompt, decoding settings except the batch size and the batch
token budget, which do not change greedy outputs). The fingerprint follows
the model's files (:func:`model_fingerprint`), so a retrained model at the
same path is generated afresh.

Several processes may append at once: each batch of entries is written as
one ``write`` under an exclusive lock on ``generations.lock``; the reader
skips a torn last line, and re-reads what others appended before deciding
what is missing. A run's older cache (``runs/<run>/cache/generations/``,
keyed with the older size-and-seconds fingerprint) is still read: its
answers are copied into the shared cache on first use.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.lm.generation import DecodeSettings, Generation

WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors", "pytorch_model.bin", "adapter_model.bin")
MODEL_SUFFIXES = {".safetensors", ".bin", ".gguf", ".json", ".jinja", ".model", ".txt"}
HASHED_BYTES = 64 * 2**20  # files up to this size are hashed whole; larger weights by size, mtime_ns, head and tail
EDGE_BYTES = 2**20


def shared_cache_dir(run_dir: Path) -> Path:
    """The cache every run of ``run_dir``'s runs folder shares."""
    return run_dir.parent / ".cache" / "generations"


def cache_dirs(run_dir: Path | None, step_dir: Path) -> tuple[Path, list[Path]]:
    """The cache a step uses and the older caches it still reads.

    In a run: the runs folder's shared cache, and the run's own cache of
    before. Outside a run (a scratch step): a cache in the step folder.
    """
    if run_dir is None:
        return step_dir / "cache" / "generations", []
    return shared_cache_dir(run_dir), [run_dir / "cache" / "generations"]


def _file_digest(path: Path) -> str:
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if st.st_size <= HASHED_BYTES:
            h.update(fh.read())
        else:
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            h.update(fh.read(EDGE_BYTES))
            fh.seek(-EDGE_BYTES, os.SEEK_END)
            h.update(fh.read(EDGE_BYTES))
    return h.hexdigest()[:16]


def model_fingerprint(ref: str) -> str:
    """A digest of a local model's files (weights, configs, tokenizer, chat template); the ref itself otherwise.

    Small files (configs, a LoRA adapter) are hashed whole; large weight files
    by size, modification time in nanoseconds and their first and last MiB.
    An adapter's fingerprint includes its local base model's.
    """
    p = Path(ref)
    if p.is_file():
        return f"{p.name}:{_file_digest(p)}"
    if not p.is_dir():
        return ref
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in MODEL_SUFFIXES)
    parts = [f"{f.name}:{_file_digest(f)}" for f in files]
    adapter = p / "adapter_config.json"
    if adapter.exists():
        base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path") or ""
        if base and Path(base).resolve() != p.resolve() and Path(base).is_dir():
            parts.append(f"base={model_fingerprint(base)}")
    return ";".join(parts) or ref


def _legacy_fingerprint(ref: str) -> str:
    """The fingerprint of caches written before the shared cache: weight sizes and whole-second times."""
    p = Path(ref)
    files = [p] if p.is_file() else [p / f for f in WEIGHT_FILES if (p / f).exists()] if p.is_dir() else []
    return ";".join(f"{f.name}:{f.stat().st_size}:{int(f.stat().st_mtime)}" for f in files) or ref


def generation_key(ref: str, fingerprint: str, prompt: Sequence[dict[str, Any]], settings: DecodeSettings) -> str:
    decoding = settings.model_dump(exclude={"batch_size", "max_batch_tokens"})
    payload = json.dumps([ref, fingerprint, list(prompt), decoding], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _read_entries(path: Path, start: int = 0) -> tuple[dict[str, dict[str, Any]], int]:
    """Entries of the complete lines from byte ``start`` on, and the offset after the last complete line.

    A line another process is still writing (no newline yet) or a torn one is skipped.
    """
    entries: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return entries, start
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    for line in data[:end].splitlines():
        try:
            entry = json.loads(line)
            entries[entry["key"]] = entry
        except (ValueError, KeyError, TypeError):
            continue  # torn by a crash mid-write: that answer is generated again
    return entries, start + end


class GenerationCache:
    """An append-only JSONL file of generations under ``folder``, safe for concurrent appenders.

    ``legacy``: older per-run cache folders read as well (their keys use the
    older fingerprint); a hit there is copied into this cache.
    """

    def __init__(self, folder: Path, legacy: Sequence[Path] = ()) -> None:
        self.folder = folder
        self.path = folder / "generations.jsonl"
        self._entries, self._offset = _read_entries(self.path)
        self._legacy: dict[str, dict[str, Any]] = {}
        for old in legacy:
            if old.resolve() != folder.resolve():
                self._legacy |= _read_entries(old / "generations.jsonl")[0]

    def __len__(self) -> int:
        return len(self._entries)

    def refresh(self) -> None:
        """Read what other processes appended since the last read."""
        fresh, self._offset = _read_entries(self.path, self._offset)
        self._entries |= fresh

    def get(self, key: str) -> Generation | None:
        e = self._entries.get(key)
        return _generation(e) if e else None

    def get_legacy(self, key: str) -> Generation | None:
        e = self._legacy.get(key)
        return _generation(e) if e else None

    def put(self, items: dict[str, Generation], model: str) -> None:
        """Append ``items`` as one write under the lock, so concurrent writers never interleave lines."""
        entries = {key: {"key": key, "model": model, "text": g.text, "latency_s": g.latency_s,
                         "new_tokens": g.new_tokens, "hit_max_new_tokens": g.hit_max_new_tokens}
                   for key, g in items.items()}
        if not entries:
            return
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries.values()).encode()
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self.refresh()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":  # a line torn by a crash: end it first
                    data = b"\n" + data
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._offset = self.path.stat().st_size
        self._entries |= entries

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.folder / "generations.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _generation(e: dict[str, Any]) -> Generation:
    return Generation(e["text"], e["latency_s"], e["new_tokens"], e.get("hit_max_new_tokens"))


def _known_truncation(g: Generation, settings: DecodeSettings) -> Generation:
    """Entries written before truncation was recorded: an answer that used the whole budget hit it."""
    if g.hit_max_new_tokens is not None:
        return g
    return replace(g, hit_max_new_tokens=g.new_tokens >= settings.max_new_tokens)


def generate_cached(model: Any, prompts: Sequence[list[dict[str, Any]]], settings: DecodeSettings,
                    cache: GenerationCache, on_batch: Callable[[int], None] | None = None) -> tuple[list[Generation], int]:
    """Answers for ``prompts`` from the cache, generating only the missing ones.

    Returns the generations in prompt order and how many were generated now.
    """
    fingerprint, old_fingerprint = model_fingerprint(model.name), _legacy_fingerprint(model.name)
    keys = [generation_key(model.name, fingerprint, p, settings) for p in prompts]
    cache.refresh()
    migrated = {}
    for key, prompt in zip(keys, prompts):
        old = cache.get_legacy(generation_key(model.name, old_fingerprint, prompt, settings))
        if old and cache.get(key) is None:
            migrated[key] = old
    cache.put(migrated, model.name)
    missing = sorted({k: i for i, k in enumerate(keys) if cache.get(k) is None}.values())
    if missing:
        fresh = model.chat([prompts[i] for i in missing], settings, on_batch=on_batch)
        cache.put({keys[i]: g for i, g in zip(missing, fresh)}, model.name)
    return [_known_truncation(cache.get(k), settings) for k in keys], len(missing)  # type: ignore[arg-type]
