"""Rehearsal: general prompts answered by the base model itself, mixed into training.

A model tuned only on support conversations starts treating every question as
a support ticket: after the demo's default run, SmolLM2 answered "What is the
capital of France?" with "Thanks for contacting Hugging Face, Sophie! I'm
sorry you're having trouble signing in ...", and the forgetting probe flagged
it. Mixing in a few general prompts with the base model's own answers (a
replay of its behaviour outside the task) teaches the adapter to leave that
behaviour alone. The prompts are a packaged set (``resources/rehearsal.jsonl``:
knowledge, arithmetic, instructions, reasoning, language, everyday requests)
written apart from the forgetting probes, which share no prompt with it
(``tests/test_training_rehearsal.py``), so the probe still measures what the
model kept rather than what it rehearsed.

Answers are greedy, asked without a system prompt (as the probes and most
general use are), and an answer cut by the token budget is dropped: training
on it would teach the model to stop mid-sentence. The rows are written into the
train step's folder, so a resumed run trains on the same ones.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from workbench import resources
from workbench.runtime import store

PROMPTS = resources.FOLDER / "rehearsal.jsonl"
MAX_NEW_TOKENS = 128
FILE = "rehearsal.jsonl"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_prompts(path: Path = PROMPTS) -> list[dict[str, str]]:
    """The packaged rehearsal prompts: ``id``, ``kind`` and ``prompt`` each."""
    return _read_jsonl(path)


def how_many(share: float, train_rows: int, available: int) -> int:
    """Rehearsal rows for ``share`` of ``train_rows`` (at least one when the share is not 0), at most ``available``."""
    return min(available, math.ceil(share * train_rows)) if share > 0 else 0


def rehearsal_rows(model_ref: str, share: float, train_rows: int, out_dir: Path, seed: int,
                   progress: Callable[[int | None, str], Any] | None = None,
                   log: Callable[[str], None] = print, cache_dir: Path | None = None) -> list[dict[str, Any]]:
    """Training rows of (general prompt, base model's answer), read from ``out_dir`` when an earlier attempt wrote them.

    ``cache_dir``: the runs folder's generation cache (:mod:`workbench.evaluation.cache`), so the variants of an
    experiment and the trials of a grid search ask the base model once. The prompts are a prefix of one seeded
    order, so a smaller training set rehearses a subset of a larger one's prompts and finds their answers there.
    """
    saved = out_dir / FILE
    if saved.is_file():
        return _read_jsonl(saved)
    prompts = load_prompts()
    wanted = how_many(share, train_rows, len(prompts))
    if not wanted:
        return []
    from workbench.evaluation.cache import GenerationCache, generate_cached
    from workbench.lm.generation import DecodeSettings, LocalChatModel

    chosen = sorted(random.Random(seed).sample(prompts, len(prompts))[:wanted], key=lambda p: p["id"])
    conversations = [[{"role": "user", "content": p["prompt"]}] for p in chosen]
    model, settings = LocalChatModel(model_ref, threads=0), DecodeSettings(max_new_tokens=MAX_NEW_TOKENS)
    # a progress bar is a context manager with update(), as the step loop uses it (the OpenAI stand-in's has no close)
    with progress(len(chosen), "rehearsal: base model answers general prompts") if progress else nullcontext() as bar:
        on_batch = bar.update if bar else None
        if cache_dir is None:
            answers = model.chat(conversations, settings, on_batch=on_batch)
        else:
            answers, _ = generate_cached(model, conversations, settings, GenerationCache(cache_dir), on_batch)
    rows = [{"id": f"rehearsal:{p['id']}", "messages": conversation + [{"role": "assistant", "content": a.text.strip()}]}
            for p, conversation, a in zip(chosen, conversations, answers) if not a.hit_max_new_tokens and a.text.strip()]
    log(f"rehearsal: {len(rows)} general prompts with the base model's answers mixed into training "
        f"({len(chosen) - len(rows)} cut or empty answers dropped)")
    out_dir.mkdir(parents=True, exist_ok=True)
    # atomic: a run killed mid-write must not resume from half the rows
    store.write_text(saved, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return rows
