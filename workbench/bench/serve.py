"""``workbench serve`` over HTTP: time to the first streamed piece, and throughput of 4 concurrent chats vs 1.

A real server on loopback (a throw-away feedback store) serves the model; the
official ``openai`` client streams held-out prompts from the sample data.
``first_token_seconds`` is the median, over the prompts, of the time from
sending the request to the first content chunk (one warm-up request first).
``tokens_per_second`` counts the answers' tokens (the model's tokenizer) over
the wall time, for one chat at a time and for 4 chats sent at once, which the
server decodes as one batch (``first_token_seconds_4`` is their median first token).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from workbench.bench.generate import HELDOUT, load_prompts
from workbench.runtime.machine import load_average

HELP = "workbench serve: first streamed token (median) and tokens/s of 4 concurrent chats vs 1, over HTTP"


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="smollm2", help="model to serve (default: the embedded SmolLM2)")
    parser.add_argument("--data", default=str(HELDOUT), help="held-out conversations whose prompts are sent")
    parser.add_argument("--prompts", type=int, default=4, help="prompts per mode (a multiple of 4 keeps it even)")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="tokens per answer at most")


def _chat(client, model: str, prompt: list[dict], max_tokens: int) -> tuple[float, float, str]:
    """(seconds to the first content chunk, seconds in all, answer) of one streamed chat."""
    t0 = time.perf_counter()
    first, pieces = None, []
    for chunk in client.chat.completions.create(model=model, messages=prompt, max_tokens=max_tokens, stream=True):
        piece = chunk.choices[0].delta.content if chunk.choices else None
        if piece:
            first = first if first is not None else time.perf_counter() - t0
            pieces.append(piece)
    return (first if first is not None else time.perf_counter() - t0), time.perf_counter() - t0, "".join(pieces)


def run(args) -> dict:
    from openai import OpenAI

    from workbench.feedback.models import served_model
    from workbench.feedback.server import FeedbackServer
    from workbench.feedback.store import FeedbackStore

    prompts = load_prompts(args.data, args.prompts)
    name, ref = served_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        server = FeedbackServer(FeedbackStore(Path(tmp) / "feedback.sqlite"), {name: ref}, rate_limit=10_000).start()
        try:
            client = OpenAI(base_url=server.url, api_key="unused-on-loopback", max_retries=0, timeout=600)
            _chat(client, name, prompts[0], 4)  # warm-up: loads the model
            tokenizer = server.chat.models[name]._model()[1]

            def tokens(text: str) -> int:
                return len(tokenizer(text, add_special_tokens=False)["input_ids"])

            load_before = load_average()
            t0 = time.perf_counter()
            one = [_chat(client, name, p, args.max_new_tokens) for p in prompts]
            one_wall = time.perf_counter() - t0
            four: list[tuple[float, float, str]] = []
            t0 = time.perf_counter()
            for start in range(0, len(prompts), 4):
                threads = [threading.Thread(target=lambda p=p: four.append(_chat(client, name, p, args.max_new_tokens)))
                           for p in prompts[start:start + 4]]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            four_wall = time.perf_counter() - t0
        finally:
            server.stop()
    one_tps = sum(tokens(a) for _, _, a in one) / one_wall
    four_tps = sum(tokens(a) for _, _, a in four) / four_wall
    return {
        "model": name, "prompts": len(prompts), "max_new_tokens": args.max_new_tokens,
        "first_token_seconds": round(statistics.median(f for f, _, _ in one), 3),
        "first_token_seconds_4": round(statistics.median(f for f, _, _ in four), 3),
        "tokens_per_second": {"1_chat": round(one_tps, 2), "4_chats": round(four_tps, 2),
                              "ratio_4_vs_1": round(four_tps / one_tps, 3) if one_tps else None},
        "load_average_before": load_before, "load_average_after": load_average(),
    }
