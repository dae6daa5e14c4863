"""Talking to the fine-tuning API: uploads made once, one job per step, errors without the key.

- Uploads are keyed by content: ``openai-uploads.json`` in the run folder maps
  ``base_url|sha256`` to the file id, and a file named after its hash found on
  the server is re-used too, so neither a re-run nor a client killed mid-upload
  leaves a second copy behind.
- Jobs are created with an ``Idempotency-Key`` and ``metadata`` derived from
  the step, and the job id is written to the step folder at once, so a
  restarted step re-attaches to its job instead of starting another.
- The SDK retries 429, 5xx, timeouts and dropped connections with backoff
  honouring ``Retry-After``; what still fails becomes a WorkbenchError that
  names the job and never contains the API key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

UPLOADS_FILE = "openai-uploads.json"
JOB_FILE = "job.json"
_KEYLIKE = re.compile(r"sk-[A-Za-z0-9_\-*]{3,}")


def redact(text: str, key: str | None) -> str:
    """``text`` without the key or anything shaped like one."""
    if key:
        text = text.replace(key, "***")
    return _KEYLIKE.sub("sk-***", text)


@contextmanager
def api_errors(what: str, key: str | None, job_id: str | None = None) -> Iterator[None]:
    """Turn SDK exceptions into one clear WorkbenchError (job id included, key never)."""
    import openai

    where = f" (job {job_id})" if job_id else ""
    try:
        yield
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = body.get("message") or str(exc)
        raise WorkbenchError(redact(f"OpenAI API {what}{where} failed with HTTP {exc.status_code}: {detail}", key),
                             hint="429/5xx were already retried with backoff; check the service status and re-run "
                                  "(the step re-attaches to its job)") from None
    except (openai.APITimeoutError, openai.APIConnectionError) as exc:
        raise WorkbenchError(redact(f"OpenAI API {what}{where}: {type(exc).__name__} after retries: {exc}", key),
                             hint="check base_url and the network; re-running re-attaches to the recorded job") from None


def make_client(base_url: str | None, key: str, timeout: float, max_retries: int) -> Any:
    from openai import OpenAI

    return OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)


def upload_once(client: Any, path: Path, sha256: str, state_file: Path, key: str) -> str:
    """The id of an uploaded file with this content, uploading only if none exists."""
    uploads = json.loads(state_file.read_text()) if state_file.exists() else {}
    slot = f"{client.base_url}|{sha256}"
    name = f"workbench-{sha256[:16]}-{path.name}"
    if slot in uploads:
        import openai

        with api_errors("files.retrieve", key):
            try:
                client.files.retrieve(uploads[slot])
                return uploads[slot]
            except openai.NotFoundError:
                pass  # deleted on the server since: upload again
    with api_errors("files.list", key):
        known = [f for f in client.files.list(purpose="fine-tune") if f.filename == name and
                 f.bytes == path.stat().st_size]
    if known:
        file_id = known[0].id
    else:
        with api_errors("files.create", key):
            file_id = client.files.create(file=(name, path.read_bytes()), purpose="fine-tune",
                                          extra_headers={"Idempotency-Key": f"workbench-upload-{sha256}"}).id
    uploads[slot] = file_id
    state_file.write_text(json.dumps(uploads, indent=2))
    return file_id


def find_or_create_job(client: Any, step_dir: Path, request: dict[str, Any], step_key: str, key: str) -> str:
    """The step's job id: recorded, found by its metadata, or newly created (and recorded at once).

    A job that ended failed or cancelled was set aside by :func:`set_aside`; the
    next attempt gets a new idempotency key so it really starts a new job.
    """
    record = step_dir / JOB_FILE
    if record.exists():
        return json.loads(record.read_text())["id"]
    attempt = len(list(step_dir.glob("job-*.ended.json")))
    with api_errors("fine_tuning.jobs.list", key):
        for job in client.fine_tuning.jobs.list(limit=50).data:  # recent jobs only: no paging through history
            if (job.metadata or {}).get("workbench_step") == step_key and job.status not in ("failed", "cancelled"):
                record.write_text(json.dumps({"id": job.id, "reattached": True}))
                return job.id
    with api_errors("fine_tuning.jobs.create", key):
        job = client.fine_tuning.jobs.create(**request, metadata={"workbench_step": step_key},
                                             extra_headers={"Idempotency-Key": f"workbench-job-{step_key}-{attempt}"})
    record.write_text(json.dumps({"id": job.id}))
    return job.id


def set_aside(step_dir: Path, job: Any) -> None:
    """Keep a failed or cancelled job's record without re-attaching to it next time."""
    (step_dir / JOB_FILE).replace(step_dir / f"job-{job.id}.ended.json")
