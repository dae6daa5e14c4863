"""``workbench serve``: local models behind OpenAI-compatible chat completions, for testers, with feedback.

Routes (all under ``/v1``): ``GET /models``, ``POST /chat/completions``
(``stream: true`` answers with server-sent ``chat.completion.chunk`` events
as the openai SDK expects) and ``POST /feedback`` (rating, correction,
comment or preference on an exchange). A completion's ``id`` is the logged
exchange's id, so a client rates exactly the answer it got.

Security: the server listens on loopback unless told otherwise, and refuses
another address while the store has no tester keys. Once any key exists a
valid ``Authorization: Bearer`` key is required (401), and the key names the
tester. Bodies over ``max_body`` bytes get 413, more than ``rate_limit``
requests per minute from one tester 429. Logged prompts and answers are
PII-redacted unless ``redact=False``.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

from workbench.errors import WorkbenchError
from workbench.feedback.store import FeedbackStore
from workbench.runtime.http_serving import OwnedHTTPServer, ThreadedServer

LOCAL_TESTER = "local"
DEFAULT_MAX_TOKENS = 256


class HttpError(Exception):
    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": "invalid_request_error", "code": str(self.status)}}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RateLimiter:
    """At most ``per_minute`` requests in any 60 s window, per tester."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute, self._lock = per_minute, threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def check(self, tester: str) -> None:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(tester, deque())
            while seen and now - seen[0] >= 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                raise HttpError(429, f"rate limit: {self.per_minute} requests per minute per tester",
                                retry_after=max(1.0, 60 - (now - seen[0])))
            seen.append(now)


class ChatModels:
    """Each served model loaded once; its concurrent chats are decoded together (see
    :class:`workbench.feedback.stream.BatchedStreams`)."""

    def __init__(self, models: dict[str, str]) -> None:
        from workbench.feedback.stream import BatchedStreams
        from workbench.lm.generation import LocalChatModel

        # threads=0: each generation uses the cores other processes leave free (oversubscribed threads stall)
        self.models = {name: LocalChatModel(ref, threads=0) for name, ref in models.items()}
        self.streams = {name: BatchedStreams(model) for name, model in self.models.items()}

    def stream(self, name: str, conversation: list[dict[str, Any]], settings: Any,
               info: dict[str, Any] | None = None) -> Iterator[str]:
        """The answer in pieces; ``info`` as in :meth:`workbench.feedback.stream.BatchedStreams.stream`."""
        if name not in self.models:
            raise HttpError(404, f"model {name!r} is not served here (served: {', '.join(self.models)})")
        yield from self.streams[name].stream(conversation, settings, info)


def record_exchange(store: FeedbackStore, redact: bool, *, exchange_id: str, tester: str, model: str,
                    conversation: list[dict[str, str]], answer: str, latency: float, first_token: float | None,
                    settings: Any) -> None:
    """Log one exchange (PII-redacted when ``redact``) with its decoding settings; the server and the Playground
    both log through here."""
    from workbench.feedback.redact import redact as redact_pii

    clean = redact_pii if redact else (lambda text: text)
    store.log_exchange(exchange_id=exchange_id, tester=tester, model=model,
                       messages=[{**m, "content": clean(m["content"])} for m in conversation], answer=clean(answer),
                       latency=latency, first_token=first_token,
                       settings={"max_tokens": settings.max_new_tokens, "temperature": settings.temperature,
                                 "top_p": settings.top_p, "seed": settings.seed, "redacted": redact})


def record_feedback(store: FeedbackStore, redact: bool, exchange_id: str, tester: str, kind: str,
                    **fields: Any) -> int:
    """Store feedback on an exchange, its text PII-redacted when ``redact``."""
    if isinstance(fields.get("text"), str) and redact:
        from workbench.feedback.redact import redact as redact_pii

        fields["text"] = redact_pii(fields["text"])
    return store.add_feedback(exchange_id, tester, kind, **fields)


def _conversation(body: dict[str, Any]) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise HttpError(400, "messages must be a non-empty list")
    out = []
    for i, m in enumerate(messages):
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        role = "system" if isinstance(m, dict) and m.get("role") == "developer" else (m or {}).get("role")
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise HttpError(400, f"messages[{i}]: needs a role (system, user, assistant) and a text content")
        out.append({"role": role, "content": content})
    return out


class FeedbackServer(ThreadedServer):
    """The server; ``start()`` runs it in a thread (tests, the Playground), ``serve_forever()`` in the foreground."""

    thread_name = "feedback-server"
    url_path = "/v1"

    def __init__(self, store: FeedbackStore, models: dict[str, str], *, host: str = "127.0.0.1", port: int = 0,
                 max_body: int = 1 << 20, rate_limit: int = 60, redact: bool = True, verbose: bool = False) -> None:
        if not is_loopback(host) and not store.testers():
            raise WorkbenchError(f"refusing to listen on {host}: the feedback store {store.path} has no tester keys",
                                 hint="add one per tester first (workbench serve keys add NAME), or serve on 127.0.0.1")
        self.store, self.max_body, self.redact, self.verbose = store, max_body, redact, verbose
        self.limiter = RateLimiter(rate_limit)
        self.chat = ChatModels(models)
        self.listen(host, port, _Handler)

    def tester(self, authorization: str | None) -> str:
        key = authorization[7:] if authorization and authorization.startswith("Bearer ") else ""
        tester = self.store.tester_for(key) if key else None
        if tester:
            return tester
        if not self.store.testers():  # loopback only (checked at start): no keys yet, so one open local tester
            return LOCAL_TESTER
        raise HttpError(401, "a valid tester key is required (Authorization: Bearer KEY)")

    def settings(self, body: dict[str, Any]) -> Any:
        from workbench.lm.generation import DecodeSettings

        if (body.get("n") or 1) != 1:
            raise HttpError(400, "this server supports n = 1 only")
        try:
            return DecodeSettings(max_new_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens")
                                                     or DEFAULT_MAX_TOKENS),
                                  temperature=float(body.get("temperature") or 0.0),
                                  top_p=float(body.get("top_p") or 1.0), seed=int(body.get("seed") or 0), batch_size=1)
        except (TypeError, ValueError) as exc:
            raise HttpError(400, f"bad decoding setting: {exc}".splitlines()[0]) from None

    def log(self, exchange_id: str, tester: str, model: str, conversation: list[dict[str, str]], answer: str,
            started: float, first_token: float | None, settings: Any) -> None:
        record_exchange(self.store, self.redact, exchange_id=exchange_id, tester=tester, model=model,
                        conversation=conversation, answer=answer, latency=time.perf_counter() - started,
                        first_token=first_token, settings=settings)


class _Handler(BaseHTTPRequestHandler):
    server: OwnedHTTPServer[FeedbackServer]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # request lines only: never headers
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        owner = self.server.owner
        try:
            size = int(self.headers.get("Content-Length") or 0)
            if size > owner.max_body:
                self.close_connection = True  # the body is not read: this connection cannot be reused
                raise HttpError(413, f"request body of {size} bytes is over this server's {owner.max_body}")
            raw = self.rfile.read(size)
            tester = owner.tester(self.headers.get("Authorization"))
            owner.limiter.check(tester)
            if (method, self.path) == ("GET", "/v1/models"):
                return self._json(200, {"object": "list", "data": [
                    {"id": name, "object": "model", "created": 0, "owned_by": "workbench"} for name in owner.chat.models]})
            if method != "POST" or self.path not in ("/v1/chat/completions", "/v1/feedback"):
                raise HttpError(404, f"no route {method} {self.path}")
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                raise HttpError(400, "the body is not JSON") from None
            if not isinstance(body, dict):
                raise HttpError(400, "the body must be a JSON object")
            if self.path == "/v1/feedback":
                return self._feedback(owner, tester, body)
            self._complete(owner, tester, body)
        except HttpError as exc:
            self._json(exc.status, exc.body(), retry_after=exc.retry_after)
        except WorkbenchError as exc:
            self._json(400, HttpError(400, str(exc)).body())

    def _feedback(self, owner: FeedbackServer, tester: str, body: dict[str, Any]) -> None:
        known = {"exchange_id", "kind", "rating", "scale", "text", "other_id"}
        if set(body) - known or "exchange_id" not in body or "kind" not in body:
            raise HttpError(400, f"feedback takes exchange_id, kind and some of rating, scale, text, other_id; "
                                 f"got {sorted(body)}")
        fields = {k: body.get(k) for k in ("rating", "scale", "text", "other_id")}
        feedback_id = record_feedback(owner.store, owner.redact, str(body["exchange_id"]), tester, str(body["kind"]),
                                      **fields)
        self._json(200, {"id": feedback_id, "object": "feedback", "exchange_id": body["exchange_id"]})

    def _complete(self, owner: FeedbackServer, tester: str, body: dict[str, Any]) -> None:
        from workbench.feedback.store import new_exchange_id

        model, conversation, settings = str(body.get("model")), _conversation(body), owner.settings(body)
        exchange_id, created, started = new_exchange_id(), int(time.time()), time.perf_counter()
        info: dict[str, Any] = {}
        pieces = owner.chat.stream(model, conversation, settings, info)

        def finish() -> str:
            return "length" if info.get("hit_max_new_tokens") else "stop"

        if not body.get("stream"):
            answer = "".join(pieces).strip()
            owner.log(exchange_id, tester, model, conversation, answer, started, None, settings)
            return self._json(200, {
                "id": exchange_id, "object": "chat.completion", "created": created, "model": model,
                "system_fingerprint": "workbench-serve",
                "choices": [{"index": 0, "finish_reason": finish(), "logprobs": None,
                             "message": {"role": "assistant", "content": answer, "refusal": None}}]})
        first = next(pieces, None)  # a bad model name fails here, before any event is sent
        first_token = time.perf_counter() - started
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        text: list[str] = []

        def event(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {"id": exchange_id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "system_fingerprint": "workbench-serve",
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()

        connected = True
        try:
            event({"role": "assistant", "content": ""})
            for piece in itertools.chain([first] if first is not None else [], pieces):
                text.append(piece)
                event({"content": piece})
        except (BrokenPipeError, ConnectionResetError):
            connected = False  # the tester closed the chat: what was generated is still logged
        # logged before the last event: a client that has the whole answer can give feedback on it at once
        owner.log(exchange_id, tester, model, conversation, "".join(text).strip(), started, first_token, settings)
        if connected:
            try:
                event({}, finish())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    def _json(self, status: int, body: Any, retry_after: float | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", f"{retry_after:.0f}")
        self.end_headers()
        self.wfile.write(data)
