"""Batched vs one-at-a-time greedy generation with SmolLM2 on held-out prompts.

Both ways answer the same prompts (the held-out conversations up to their
last assistant turn) with the same greedy settings through
:class:`workbench.lm.generation.LocalChatModel`; the batched run uses left
padding, length sorting and the KV cache. Outputs must be identical.

Measured fairly: torch uses one thread per free core (every core unless other
processes keep some busy right now: on a shared CPU, threads beyond the free
cores stall each other at every parallel region; the same count serves both modes), both modes are
warmed up before timing, generation runs under ``inference_mode``, and both
modes count only the real tokens of each answer (up to its end-of-sequence
token; the padding a finished row receives while its batch runs on is not
counted). ``--repeats`` alternates the two modes and keeps each one's best time.
"""

from __future__ import annotations

import time
from pathlib import Path

from workbench.runtime.machine import load_average

HELP = "greedy generation one prompt at a time vs batched (16) with SmolLM2; outputs must match"
HELDOUT = Path(__file__).resolve().parents[2] / "sample_data" / "heldout.jsonl"


def add_arguments(parser) -> None:
    parser.add_argument("--data", default=str(HELDOUT), help="held-out conversations (any supported format)")
    parser.add_argument("--prompts", type=int, default=32, help="how many prompts to answer")
    parser.add_argument("--batch-size", type=int, default=16, help="prompts generated together in the batched run")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="tokens generated per answer at most")
    parser.add_argument("--model", default="smollm2", help="model reference (default: the embedded SmolLM2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the cores not kept busy by other processes, at least one)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per mode (alternating); the best counts")


def load_prompts(path: str, n: int) -> list[list[dict]]:
    from workbench.evaluation.examples import split_conversation
    from workbench.io import load_table

    table = load_table(Path(path)).table
    prompts = [split_conversation(m)[0] for m in table["messages"].to_list()]
    return [p for p in prompts if any(t["role"] == "user" for t in p)][:n]


def run(args) -> dict:
    import torch

    from workbench.lm.device import free_cores
    from workbench.lm.generation import DecodeSettings, LocalChatModel

    threads = args.threads or free_cores()
    torch.set_num_threads(threads)
    prompts = load_prompts(args.data, args.prompts)
    model = LocalChatModel(args.model)
    load_before = load_average()
    # load the model and warm up both code paths outside the timings
    model.chat(prompts[:2], DecodeSettings(max_new_tokens=8, batch_size=1))
    model.chat(prompts[:args.batch_size], DecodeSettings(max_new_tokens=8, batch_size=args.batch_size))

    def timed(batch_size: int) -> tuple[list, float]:
        t0 = time.perf_counter()
        out = model.chat(prompts, DecodeSettings(max_new_tokens=args.max_new_tokens, batch_size=batch_size))
        return out, time.perf_counter() - t0

    seq_times, bat_times = [], []
    for _ in range(max(1, args.repeats)):
        sequential, s = timed(1)
        batched, b = timed(args.batch_size)
        seq_times.append(s)
        bat_times.append(b)
    seq_s, bat_s = min(seq_times), min(bat_times)
    seq_tokens = sum(g.new_tokens for g in sequential)
    bat_tokens = sum(g.new_tokens for g in batched)
    mismatches = [i for i, (a, b) in enumerate(zip(sequential, batched)) if a.text != b.text]
    return {
        "model": args.model, "prompts": len(prompts), "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens, "generated_tokens": seq_tokens,
        "sequential_tokens": seq_tokens, "batched_tokens": bat_tokens,
        "answers_at_max_new_tokens": sum(g.new_tokens >= args.max_new_tokens for g in sequential),
        "sequential_seconds": round(seq_s, 3), "batched_seconds": round(bat_s, 3),
        "sequential_seconds_all": [round(x, 3) for x in seq_times], "batched_seconds_all": [round(x, 3) for x in bat_times],
        "sequential_tokens_per_second": round(seq_tokens / seq_s, 2),
        "batched_tokens_per_second": round(bat_tokens / bat_s, 2),
        "speedup": round(seq_s / bat_s, 2), "outputs_identical": not mismatches and len(sequential) == len(batched),
        "mismatched_prompts": mismatches, "threads": threads,
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
