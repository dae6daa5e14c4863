"""What the local server knows: files, fine-tuning jobs, their events and checkpoints, models.

Objects are kept as the JSON dicts the API returns (shapes from OpenAI's
spec); uploaded bytes and trained models live under the server's data folder.
One lock guards everything; job threads update objects through it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

ORGANIZATION = "org-workbench-local"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


class ApiError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {message, type, param, code}}``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.type, self.param, self.code = status, type, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": str(self), "type": self.type, "param": self.param, "code": self.code}}


class ServerState:
    """Files, jobs, events, checkpoints and models of one server."""

    def __init__(self, data_dir: Path, base_models: dict[str, Path]) -> None:
        if not base_models:
            raise WorkbenchError("the OpenAI-compatible server needs at least one base model folder",
                                 hint="pass --model-dir FOLDER (a transformers model folder)")
        self.data_dir = data_dir
        (data_dir / "files").mkdir(parents=True, exist_ok=True)
        (data_dir / "models").mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        #: model id -> (model object, local folder)
        self.models: dict[str, tuple[dict[str, Any], Path]] = {}
        #: Idempotency-Key -> (status, body) of the first answer
        self.idempotent: dict[str, tuple[int, Any]] = {}
        self._idempotency_locks: dict[str, threading.Lock] = {}
        for name, folder in base_models.items():
            self.add_model(name, folder, owned_by="workbench")

    # -- models ------------------------------------------------------------
    def idempotency_lock(self, slot: str) -> threading.Lock:
        """One lock per idempotency key: a retry arriving while the first request runs waits for its answer."""
        with self.lock:
            return self._idempotency_locks.setdefault(slot, threading.Lock())

    def add_model(self, model_id: str, folder: Path, *, owned_by: str) -> None:
        with self.lock:
            self.models[model_id] = ({"id": model_id, "object": "model", "created": int(time.time()),
                                      "owned_by": owned_by}, folder)

    def model(self, model_id: str) -> tuple[dict[str, Any], Path]:
        with self.lock:
            if model_id not in self.models:
                raise ApiError(404, f"The model '{model_id}' does not exist or you do not have access to it.",
                               param="model", code="model_not_found")
            return self.models[model_id]

    # -- files -------------------------------------------------------------
    def add_file(self, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
        file_id = new_id("file")
        (self.data_dir / "files" / file_id).write_bytes(content)
        obj = {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
               "filename": filename, "purpose": purpose, "status": "processed"}
        with self.lock:
            self.files[file_id] = obj
        return obj

    def file(self, file_id: str) -> dict[str, Any]:
        with self.lock:
            if file_id not in self.files:
                raise ApiError(404, f"No such File object: {file_id}", param="id", code="file_not_found")
            return self.files[file_id]

    def file_content(self, file_id: str) -> bytes:
        self.file(file_id)
        return (self.data_dir / "files" / file_id).read_bytes()

    def delete_file(self, file_id: str) -> dict[str, Any]:
        self.file(file_id)
        with self.lock:
            del self.files[file_id]
        (self.data_dir / "files" / file_id).unlink(missing_ok=True)
        return {"id": file_id, "object": "file", "deleted": True}

    # -- jobs --------------------------------------------------------------
    def job(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            if job_id not in self.jobs:
                raise ApiError(404, f"Fine-tuning job {job_id} not found", param="fine_tuning_job_id",
                               code="fine_tuning_job_not_found")
            return self.jobs[job_id]

    def update_job(self, job_id: str, **fields: Any) -> None:
        with self.lock:
            self.jobs[job_id].update(fields)

    def add_event(self, job_id: str, message: str, *, level: str = "info", data: dict[str, Any] | None = None) -> None:
        event = {"object": "fine_tuning.job.event", "id": new_id("ftevent"), "created_at": int(time.time()),
                 "level": level, "message": message, "type": "metrics" if data else "message", "data": data or {}}
        with self.lock:
            self.events.setdefault(job_id, []).append(event)

    def add_checkpoint(self, job_id: str, model_id: str, folder: Path, step: int, metrics: dict[str, float]) -> None:
        checkpoint = {"object": "fine_tuning.job.checkpoint", "id": new_id("ftckpt"), "created_at": int(time.time()),
                      "fine_tuned_model_checkpoint": model_id, "fine_tuning_job_id": job_id,
                      "step_number": step, "metrics": metrics}
        with self.lock:
            self.checkpoints.setdefault(job_id, []).append(checkpoint)
        self.add_model(model_id, folder, owned_by=ORGANIZATION)


def jsonl_objects(content: bytes) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON or None when the line is not JSON) of an uploaded file's non-blank lines."""
    for lineno, line in enumerate(content.decode("utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError:
                yield lineno, None
