"""Streamed answers of a local chat model: text pieces as the tokens are generated.

``model.generate`` runs in a worker thread and hands decoded text to a
transformers ``TextIteratorStreamer``; the caller iterates over the pieces
(for server-sent events or the Playground) while generation goes on. The
prompt, stop tokens and decoding are those of
:class:`workbench.generation.LocalChatModel`, so a streamed answer is the same
text the batch path returns.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from workbench.generation import DecodeSettings, LocalChatModel, torch_threads


def stream_answer(chat_model: LocalChatModel, conversation: list[dict[str, Any]],
                  settings: DecodeSettings) -> Iterator[str]:
    """Yield the answer's text in pieces; the pieces joined and stripped are the whole answer."""
    import torch
    from transformers import TextIteratorStreamer

    model, tok = chat_model._model()
    prompt = chat_model.prompt_ids(conversation)
    device = next(model.parameters()).device
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=600)
    sample = settings.temperature > 0
    failure: list[BaseException] = []

    threads = chat_model.cpu_threads()

    def generate() -> None:
        try:
            if sample:
                torch.manual_seed(settings.seed)
            with torch_threads(threads), torch.inference_mode():
                model.generate(input_ids=torch.tensor([prompt], device=device),
                               attention_mask=torch.ones(1, len(prompt), dtype=torch.long, device=device),
                               max_new_tokens=settings.max_new_tokens, do_sample=sample,
                               temperature=settings.temperature if sample else None,
                               top_p=settings.top_p if sample else None, top_k=None,
                               pad_token_id=tok.pad_token_id, eos_token_id=chat_model.stop_ids(), streamer=streamer)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            failure.append(exc)
            streamer.end()

    worker = threading.Thread(target=generate, name="stream-answer", daemon=True)
    worker.start()
    started = False
    for piece in streamer:
        if not started:  # the batch path strips the answer: drop leading whitespace the same way
            piece = piece.lstrip()
            started = bool(piece)
        if piece:
            yield piece
    worker.join()
    if failure:
        raise failure[0]
