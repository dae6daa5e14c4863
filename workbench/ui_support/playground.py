"""The Playground's logic: chat with one model or two side by side (streamed), log each turn, take feedback.

Everything goes through the same store and the same logging as ``workbench
serve`` (:mod:`workbench.feedback.server`): an exchange is PII-redacted
before it is written, the tester's name is the session's, and the exports and
agreement figures see Playground feedback exactly like the server's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from workbench.feedback.store import FeedbackStore

EMBEDDED = "smollm2"


def store_for(runs_dir: Path) -> FeedbackStore:
    """The project's feedback store, next to its runs (the one ``workbench serve`` uses by default)."""
    return FeedbackStore(Path(runs_dir) / "feedback.sqlite")


def available_models(runs_dir: Path) -> dict[str, str]:
    """Model name -> reference: the embedded SmolLM2 and every run with a trained local model."""
    from workbench.errors import WorkbenchError
    from workbench.feedback.models import served_model
    from workbench.runtime.store import list_runs

    models = {EMBEDDED: EMBEDDED}
    for run in list_runs(Path(runs_dir)):
        try:
            name, ref = served_model(run["path"])
        except WorkbenchError:
            continue  # a run without a trained model
        models[name] = ref
    return models


def stream_reply(chat: Any, store: FeedbackStore, *, tester: str, model: str, conversation: list[dict[str, str]],
                 settings: Any, on_logged: Callable[[str, str], None], redact: bool = True) -> Iterator[str]:
    """Yield ``model``'s answer in pieces; when it is complete, log the exchange and call ``on_logged(id, answer)``.

    ``chat``: a :class:`workbench.feedback.server.ChatModels` serving ``model``.
    """
    from workbench.feedback.server import record_exchange
    from workbench.feedback.store import new_exchange_id

    started, first_token, pieces = time.perf_counter(), None, []
    for piece in chat.stream(model, conversation, settings):
        first_token = first_token if first_token is not None else time.perf_counter() - started
        pieces.append(piece)
        yield piece
    answer, exchange_id = "".join(pieces).strip(), new_exchange_id()
    record_exchange(store, redact, exchange_id=exchange_id, tester=tester, model=model, conversation=conversation,
                    answer=answer, latency=time.perf_counter() - started, first_token=first_token, settings=settings)
    on_logged(exchange_id, answer)


def give_feedback(store: FeedbackStore, exchange_id: str, tester: str, kind: str, **fields: Any) -> int:
    """Store one piece of feedback (texts PII-redacted), checked as the server checks it."""
    from workbench.feedback.server import record_feedback

    return record_feedback(store, True, exchange_id, tester, kind, **fields)
