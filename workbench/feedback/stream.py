"""Streamed answers of a local chat model: text pieces as the tokens are generated.

``model.generate`` runs in a worker thread and hands decoded text to a
transformers ``TextIteratorStreamer``; the caller iterates over the pieces
(for server-sent events or the Playground) while generation goes on. The
prompt, stop tokens and decoding are those of
:class:`workbench.lm.generation.LocalChatModel`, so a streamed answer is the same
text the batch path returns.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from workbench.lm.generation import DecodeSettings, LocalChatModel, torch_threads


def stream_answer(chat_model: LocalChatModel, conversation: list[dict[str, Any]], settings: DecodeSettings,
                  info: dict[str, Any] | None = None) -> Iterator[str]:
    """Yield the answer's text in pieces; the pieces joined and stripped are the whole answer.

    ``info``, when given, receives ``new_tokens`` and ``hit_max_new_tokens`` (the answer was cut, not ended by a
    stop token: OpenAI's ``finish_reason = "length"``) once the answer is complete.
    """
    import torch
    from transformers import TextIteratorStreamer

    class CountingStreamer(TextIteratorStreamer):
        new_tokens, last = 0, None

        def put(self, value: Any) -> None:
            if not (self.skip_prompt and self.next_tokens_are_prompt):
                self.new_tokens += int(value.numel())
                self.last = int(value.flatten()[-1])
            super().put(value)

    model, tok = chat_model._model()
    prompt = chat_model.prompt_ids(conversation)
    device = next(model.parameters()).device
    stops = chat_model.stop_ids()
    streamer = CountingStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=600)
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
                               pad_token_id=tok.pad_token_id, eos_token_id=stops, streamer=streamer)
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
    if info is not None:
        info.update(new_tokens=streamer.new_tokens,
                    hit_max_new_tokens=streamer.new_tokens >= settings.max_new_tokens and streamer.last not in stops)
