"""The HTTP side of the local OpenAI-compatible server (stdlib ``http.server``).

Routes are written as the spec's path templates (``/files/{file_id}``), so
a recorded exchange names the exact operation of ``openapi.yaml`` it must
conform to. ``Idempotency-Key`` makes a retried POST return the first answer
instead of creating a second file or job. ``/_workbench/faults`` (not part of
OpenAI's API) injects faults from another process; it exists only on a server
started with ``test_faults=True`` (``--test-faults``), because anyone who can
reach it could make the server fail or stall, and it asks for the API key too.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from workbench.openai_server.chat import ChatService
from workbench.openai_server.faults import Faults
from workbench.openai_server.jobs import JobRunner
from workbench.openai_server.state import ApiError, ServerState
from workbench.runtime.http_serving import OwnedHTTPServer, ThreadedServer

PREFIX = "/v1"
MAX_BODY = 512 * 1024 * 1024


def _page(items: list[dict[str, Any]], query: dict[str, str], default_limit: int = 20) -> tuple[list[dict[str, Any]], bool]:
    """Cursor pagination as OpenAI does it: ``after`` an id, at most ``limit`` items."""
    limit = int(query.get("limit") or default_limit)
    after = query.get("after")
    if after:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    return items[:limit], len(items) > limit


def _list(data: list[dict[str, Any]], has_more: bool, *, ids: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more}
    if ids:
        body.update(first_id=data[0]["id"] if data else None, last_id=data[-1]["id"] if data else None)
    return body


class Api:
    """The operations, independent of HTTP plumbing: (method, template) -> handler."""

    def __init__(self, state: ServerState, faults: Faults, training: dict[str, Any] | None = None) -> None:
        self.state, self.faults = state, faults
        self.jobs = JobRunner(state, faults, training)
        self.chat = ChatService()
        R = Callable[[dict[str, str], dict[str, str], Any], Any]
        self.routes: dict[tuple[str, str], R] = {
            ("GET", "/models"): lambda p, q, b: _list([m for m, _ in self.state.models.values()], False, ids=False),
            ("GET", "/models/{model}"): lambda p, q, b: self.state.model(p["model"])[0],
            ("POST", "/files"): self.upload,
            ("GET", "/files"): self.list_files,
            ("GET", "/files/{file_id}"): lambda p, q, b: self.state.file(p["file_id"]),
            ("DELETE", "/files/{file_id}"): lambda p, q, b: self.state.delete_file(p["file_id"]),
            ("GET", "/files/{file_id}/content"): lambda p, q, b: self.state.file_content(p["file_id"]),
            ("POST", "/fine_tuning/jobs"): lambda p, q, b: self.jobs.create(b or {}),
            ("GET", "/fine_tuning/jobs"): self.list_jobs,
            ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}"): lambda p, q, b: self.state.job(p["fine_tuning_job_id"]),
            ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel"): lambda p, q, b: self.jobs.cancel(p["fine_tuning_job_id"]),
            ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events"): self.list_events,
            ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints"): self.list_checkpoints,
            ("POST", "/chat/completions"): self.complete,
        }
        self._patterns = [(m, t, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", t) + "$"))
                          for m, t in self.routes]

    def match(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        known = False
        for m, template, pattern in self._patterns:
            hit = pattern.match(path)
            if hit:
                known = True
                if m == method:
                    return template, hit.groupdict()
        raise ApiError(405 if known else 404, f"Invalid URL ({method} {PREFIX}{path})")

    def upload(self, params: dict[str, str], query: dict[str, str], form: Any) -> dict[str, Any]:
        if not isinstance(form, dict) or "file" not in form:
            raise ApiError(400, "a multipart 'file' field is required", param="file")
        if form.get("purpose") != "fine-tune":
            raise ApiError(400, "this server accepts purpose 'fine-tune' only", param="purpose")
        filename, content = form["file"]
        return self.state.add_file(filename, "fine-tune", content)

    def list_files(self, params: dict[str, str], query: dict[str, str], body: Any) -> dict[str, Any]:
        with self.state.lock:
            files = sorted(self.state.files.values(), key=lambda f: f["created_at"], reverse=query.get("order") != "asc")
        files = [f for f in files if not query.get("purpose") or f["purpose"] == query["purpose"]]
        data, more = _page(files, query, default_limit=10000)
        return _list(data, more, ids=True)

    def list_jobs(self, params: dict[str, str], query: dict[str, str], body: Any) -> dict[str, Any]:
        with self.state.lock:
            jobs = list(reversed(self.state.jobs.values()))
        return _list(*_page(jobs, query), ids=False)

    def list_events(self, params: dict[str, str], query: dict[str, str], body: Any) -> dict[str, Any]:
        return _list(*_page(self._newest_first(self.state.events, params), query), ids=False)

    def list_checkpoints(self, params: dict[str, str], query: dict[str, str], body: Any) -> dict[str, Any]:
        return _list(*_page(self._newest_first(self.state.checkpoints, params), query, default_limit=10), ids=True)

    def _newest_first(self, by_job: dict[str, list[dict[str, Any]]], params: dict[str, str]) -> list[dict[str, Any]]:
        job_id = params["fine_tuning_job_id"]
        self.state.job(job_id)
        with self.state.lock:
            return list(reversed(by_job.get(job_id, [])))

    def complete(self, params: dict[str, str], query: dict[str, str], body: Any) -> dict[str, Any]:
        body = body or {}
        if body.get("stream"):
            raise ApiError(400, "streaming is not supported by this server", param="stream")
        model_obj, folder = self.state.model(str(body.get("model")))
        return self.chat.complete(model_obj["id"], folder, body)


class _Handler(BaseHTTPRequestHandler):
    server: OwnedHTTPServer[OpenAIServer]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # request lines only: never headers
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        owner = self.server.owner
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(min(int(self.headers.get("Content-Length") or 0), MAX_BODY))
        if url.path.startswith("/_workbench/faults") and owner.test_faults:
            return self._faults(method, raw)
        path = url.path[len(PREFIX):] if url.path.startswith(PREFIX + "/") else url.path
        fault = owner.faults.take(method, path, kinds=("429", "500", "drop", "slow"))
        if fault and fault.kind == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if fault and fault.kind == "slow":
            time.sleep(fault.seconds)
        template, status, body, request = None, 200, None, None
        try:
            template, params = owner.api.match(method, path)
            request = self._parse(raw)
            if fault and fault.kind in ("429", "500"):
                code = int(fault.kind)
                raise ApiError(code, "Rate limit reached (injected)" if code == 429 else "The server had an error "
                               "while processing your request (injected)",
                               type="requests" if code == 429 else "server_error",
                               code="rate_limit_exceeded" if code == 429 else None)
            self._authorise()
            route = owner.api.routes[(method, template)]
            key = self.headers.get("Idempotency-Key")
            if key and method == "POST":
                slot = f"{template}|{key}"
                with owner.state.idempotency_lock(slot):
                    if slot not in owner.state.idempotent:
                        owner.state.idempotent[slot] = (status, route(params, query, request))
                    status, body = owner.state.idempotent[slot]
            else:
                body = route(params, query, request)
        except ApiError as exc:
            status, body = exc.status, exc.body()
        owner.record(method, template, path, status, request, body)
        self._send(status, body, retry_after=fault.retry_after if fault and fault.kind == "429" else None)

    def _authorise(self) -> None:
        header = self.headers.get("Authorization") or ""
        given = header[7:] if header.startswith("Bearer ") else ""
        expected = self.server.owner.api_key
        if not given or (expected is not None and not hmac.compare_digest(given.encode(), expected.encode())):
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    def _parse(self, raw: bytes) -> Any:
        ctype = self.headers.get("Content-Type") or ""
        if ctype.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
            form: dict[str, Any] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not isinstance(name, str):  # a part without a plain field name: not a form field
                    continue
                decoded = part.get_payload(decode=True)
                payload = decoded if isinstance(decoded, bytes) else b""
                form[name] = (part.get_filename() or "upload.jsonl", payload) if part.get_filename() else payload.decode()
            return form
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise ApiError(400, "We could not parse the JSON body of your request.") from None

    def _send(self, status: int, body: Any, retry_after: float | None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", f"{retry_after:g}")
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout fault)
            self.close_connection = True

    def _faults(self, method: str, raw: bytes) -> None:
        owner = self.server.owner
        try:
            self._authorise()
        except ApiError as exc:
            return self._send(exc.status, exc.body(), None)
        if method == "DELETE":
            owner.faults.clear()
            return self._send(200, {"cleared": True}, None)
        try:
            spec = json.loads(raw or b"{}")
            owner.faults.add(spec.pop("kind"), **spec)
        except (KeyError, TypeError, ValueError) as exc:
            return self._send(400, ApiError(400, f"bad fault: {exc}").body(), None)
        self._send(200, {"added": True}, None)


class OpenAIServer(ThreadedServer):
    """An OpenAI-compatible server over local models, runnable in a thread or in the foreground."""

    thread_name = "openai-server"
    url_path = PREFIX

    def __init__(self, data_dir: Path, base_models: dict[str, Path], *, host: str = "127.0.0.1", port: int = 0,
                 api_key: str | None = None, record: bool = False, verbose: bool = False,
                 training: dict[str, Any] | None = None, test_faults: bool = False) -> None:
        """``training``: options of the shared local trainer for every job (e.g. ``{"method": "lora"}``),
        on top of :data:`workbench.openai_server.tuning.SERVER_DEFAULTS`. ``test_faults``: serve
        ``/_workbench/faults`` (tests only; in-process ``self.faults`` works either way)."""
        self.faults = Faults()
        self.state = ServerState(Path(data_dir), base_models)
        self.api = Api(self.state, self.faults, training)
        self.api_key, self.verbose, self.test_faults = api_key, verbose, test_faults
        #: with ``record``: every exchange as (method, template, path, status, request, response)
        self.exchanges: list[dict[str, Any]] | None = [] if record else None
        self.listen(host, port, _Handler)

    def record(self, method: str, template: str | None, path: str, status: int, request: Any, response: Any) -> None:
        if self.exchanges is not None:
            if isinstance(request, dict) and isinstance(request.get("file"), tuple):
                request = {**request, "file": "<binary>"}
            self.exchanges.append({"method": method, "template": template, "path": path, "status": status,
                                   "request": request, "response": response})

    def stop(self) -> None:
        """Stop serving, and stop the fine-tuning worker so a job in training does not go on using the CPU."""
        super().stop()
        self.api.jobs.stop()
