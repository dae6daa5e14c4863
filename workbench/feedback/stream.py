"""Streamed answers of a local chat model, with concurrent chats decoded together.

A server faces several testers at once. Decoding their chats one after the
other leaves the CPU's matrix units mostly idle (a decode step of one row
costs about what a step of eight rows does), so :class:`BatchedStreams`
collects the chats that arrive within ``window`` seconds of each other and
decodes them as one left-padded batch (:meth:`LocalChatModel.generate_rows`,
with the unpadded prefill of :mod:`workbench.lm.batched_decoding`). Each chat's
tokens go to its own caller as text pieces as soon as they are decoded; a
chat ends at its own stop token or ``max_new_tokens``, and a caller that
stops reading (a tester closing the chat) frees its row. Chats arriving while
a batch decodes wait for the next batch.

Greedy answers equal those of :meth:`LocalChatModel.chat` (tested). A chat
that samples (temperature > 0) is decoded alone, so its seed reproduces it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from workbench.lm.generation import DecodeSettings, LocalChatModel, torch_threads

_END = object()


@dataclass
class _Chat:
    conversation: list[dict[str, Any]]
    settings: DecodeSettings
    pieces: queue.Queue = field(default_factory=queue.Queue)
    closed: bool = False  # the caller stopped reading
    ids: list[int] = field(default_factory=list)
    sent: str = ""
    done: bool = False
    hit_max: bool = False

    @property
    def batchable(self) -> bool:
        return self.settings.temperature == 0


class _RowStreamer:
    """``generate``'s streamer and stopping criterion for a batch: row i's new tokens become chat i's text pieces."""

    def __init__(self, chats: list[_Chat], tok: Any, stops: list[int]) -> None:
        self.chats, self.tok, self.stops, self.prompt_seen = chats, tok, set(stops), False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate hands over the prompt first
            self.prompt_seen = True
            return
        for chat, token in zip(self.chats, value.reshape(-1).tolist(), strict=True):
            if chat.done:
                continue
            if chat.closed or token in self.stops:
                self._finish(chat)
                continue
            chat.ids.append(token)
            text = self.tok.decode(chat.ids, skip_special_tokens=True).lstrip()
            # a piece ending inside a multi-byte character waits for the next token
            if len(text) > len(chat.sent) and not text.endswith("\ufffd"):
                chat.pieces.put(text[len(chat.sent):])
                chat.sent = text
            if len(chat.ids) >= chat.settings.max_new_tokens:
                chat.hit_max = True
                self._finish(chat)

    def _finish(self, chat: _Chat) -> None:
        text = self.tok.decode(chat.ids, skip_special_tokens=True).strip()
        if len(text) > len(chat.sent) and text.startswith(chat.sent):
            chat.pieces.put(text[len(chat.sent):])
        chat.done = True
        chat.pieces.put(_END)

    def end(self) -> None:
        for chat in self.chats:
            if not chat.done:
                self._finish(chat)

    def criterion(self) -> Any:
        """A stopping criterion: a row is done when its chat is (its own limit, or its caller left)."""
        import torch
        from transformers import StoppingCriteria

        streamer = self

        class RowsDone(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.tensor([c.done or c.closed for c in streamer.chats], device=input_ids.device)

        return RowsDone()


class BatchedStreams:
    """One model's streamed chats; concurrent chats share one batched decode.

    ``window``: seconds a batch waits for more chats after the first arrives;
    ``max_batch``: chats decoded together at most. The decoding thread ends after
    ``idle`` seconds without a chat (a server that was stopped holds no thread) and starts again with the next.
    """

    def __init__(self, chat_model: LocalChatModel, *, window: float = 0.03, max_batch: int = 8,
                 idle: float = 60.0) -> None:
        self.chat_model, self.window, self.max_batch, self.idle = chat_model, window, max_batch, idle
        self._waiting: list[tuple[float, _Chat]] = []
        self._ready = threading.Condition()
        self._worker: threading.Thread | None = None

    def stream(self, conversation: list[dict[str, Any]], settings: DecodeSettings,
               info: dict[str, Any] | None = None) -> Iterator[str]:
        """Yield the answer's text in pieces; the pieces joined and stripped are the whole answer.

        ``info``, when given, receives ``new_tokens`` and ``hit_max_new_tokens`` (the answer was cut, not ended by
        a stop token: OpenAI's ``finish_reason = "length"``) once the answer is complete.
        """
        chat = _Chat(conversation, settings)
        with self._ready:
            self._waiting.append((time.monotonic(), chat))
            if self._worker is None:
                self._worker = threading.Thread(target=self._decode_forever, name="batched-streams", daemon=True)
                self._worker.start()
            self._ready.notify()
        try:
            while (piece := chat.pieces.get()) is not _END:
                if isinstance(piece, BaseException):
                    raise piece
                yield piece
        finally:
            chat.closed = True
        if info is not None:
            info.update(new_tokens=len(chat.ids), hit_max_new_tokens=chat.hit_max)

    def _next_batch(self) -> list[_Chat] | None:
        """Wait for chats, then up to ``window`` for more; take the first and the batchable ones beside it.
        None (and the thread is let go) after ``idle`` seconds without a chat."""
        with self._ready:
            if not self._waiting and not self._ready.wait_for(lambda: bool(self._waiting), self.idle):
                self._worker = None
                return None
            deadline = self._waiting[0][0] + self.window
            while len(self._waiting) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._ready.wait(left)
            first = self._waiting[0][1]
            taken = [first] if not first.batchable else [c for _, c in self._waiting if c.batchable][:self.max_batch]
            self._waiting = [(t, c) for t, c in self._waiting if c not in taken]
            return taken

    def _decode_forever(self) -> None:
        while (chats := self._next_batch()) is not None:
            self._decode(chats)

    def _decode(self, chats: list[_Chat]) -> None:
        model = self.chat_model
        try:
            _, tok = model._model()
            prompts = [model.prompt_ids(c.conversation) for c in chats]
            streamer = _RowStreamer(chats, tok, model.stop_ids())
            settings = chats[0].settings.model_copy(update={"max_new_tokens": max(c.settings.max_new_tokens
                                                                                  for c in chats)})
            from transformers import StoppingCriteriaList

            with torch_threads(model.cpu_threads()):
                model.generate_rows(prompts, settings, streamer=streamer,
                                    stopping_criteria=StoppingCriteriaList([streamer.criterion()]))
        except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, which raises it
            for chat in chats:
                if not chat.done:
                    chat.done = True
                    chat.pieces.put(exc)
