"""Batched vs one-at-a-time greedy generation with SmolLM2 on held-out prompts.

Both ways answer the same prompts (the held-out conversations up to their
last assistant turn) with the same greedy settings through
:class:`workbench.generation.LocalChatModel`; the batched run uses left
padding, length sorting and the KV cache. Outputs must be identical.
"""

from __future__ import annotations

import time
from pathlib import Path

HELP = "greedy generation one prompt at a time vs batched (16) with SmolLM2; outputs must match"
HELDOUT = Path(__file__).resolve().parents[2] / "sample_data" / "heldout.jsonl"


def add_arguments(parser) -> None:
    parser.add_argument("--data", default=str(HELDOUT), help="held-out conversations (any supported format)")
    parser.add_argument("--prompts", type=int, default=32, help="how many prompts to answer")
    parser.add_argument("--batch-size", type=int, default=16, help="prompts generated together in the batched run")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="tokens generated per answer at most")
    parser.add_argument("--model", default="smollm2", help="model reference (default: the embedded SmolLM2)")


def load_prompts(path: str, n: int) -> list[list[dict]]:
    from workbench.evaluation.examples import split_conversation
    from workbench.io import load_table

    table = load_table(Path(path)).table
    prompts = [split_conversation(m)[0] for m in table["messages"].to_list()]
    return [p for p in prompts if any(t["role"] == "user" for t in p)][:n]


def run(args) -> dict:
    import torch

    from workbench.generation import DecodeSettings, LocalChatModel

    prompts = load_prompts(args.data, args.prompts)
    model = LocalChatModel(args.model)
    model.chat(prompts[:1], DecodeSettings(max_new_tokens=4, batch_size=1))  # load and warm up outside the timings

    def timed(batch_size: int) -> tuple[list, float]:
        t0 = time.perf_counter()
        out = model.chat(prompts, DecodeSettings(max_new_tokens=args.max_new_tokens, batch_size=batch_size))
        return out, time.perf_counter() - t0

    sequential, seq_s = timed(1)
    batched, bat_s = timed(args.batch_size)
    tokens = sum(g.new_tokens for g in sequential)
    mismatches = [i for i, (a, b) in enumerate(zip(sequential, batched)) if a.text != b.text]
    return {
        "model": args.model, "prompts": len(prompts), "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens, "generated_tokens": tokens,
        "sequential_seconds": round(seq_s, 3), "batched_seconds": round(bat_s, 3),
        "sequential_tokens_per_second": round(tokens / seq_s, 2),
        "batched_tokens_per_second": round(sum(g.new_tokens for g in batched) / bat_s, 2),
        "speedup": round(seq_s / bat_s, 2), "outputs_identical": not mismatches, "mismatched_prompts": mismatches,
        "torch_threads": torch.get_num_threads(),
    }
