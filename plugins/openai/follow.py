"""Following a fine-tuning job until it ends: status, events, metrics, cancellation.

Events are logged once each (they are listed newest first, so the loop keeps
the ids it has shown); metrics events advance ``ctx.progress`` with the loss,
so the CLI bar and the UI's ``progress.json`` show the remote training.
"""

from __future__ import annotations

import time
from typing import Any

from workbench.errors import WorkbenchError
from workbench.plugins.openai.remote import api_errors

TERMINAL = ("succeeded", "failed", "cancelled")


def follow(client: Any, job_id: str, ctx: Any, *, poll_interval: float, max_wait: float | None, key: str) -> Any:
    """Poll ``job_id`` until it is terminal; cancel it when the step is cancelled."""
    seen: set[str] = set()
    started = time.monotonic()
    with ctx.progress(None, f"OpenAI job {job_id}") as bar:
        while True:
            with api_errors("fine_tuning.jobs.retrieve", key, job_id):
                job = client.fine_tuning.jobs.retrieve(job_id)
            _show_events(client, job_id, ctx, bar, seen, key)
            if job.status in TERMINAL:
                return job
            if ctx.cancelled():
                with api_errors("fine_tuning.jobs.cancel", key, job_id):
                    return client.fine_tuning.jobs.cancel(job_id)
            if max_wait is not None and time.monotonic() - started > max_wait:
                raise WorkbenchError(f"OpenAI job {job_id} still {job.status} after {max_wait:g} s",
                                     hint="re-run the step to re-attach to the same job, or raise max_wait")
            bar.update(0, status=job.status)
            time.sleep(poll_interval)


def _show_events(client: Any, job_id: str, ctx: Any, bar: Any, seen: set[str], key: str) -> None:
    with api_errors("fine_tuning.jobs.list_events", key, job_id):
        page = client.fine_tuning.jobs.list_events(job_id, limit=100)
    for event in reversed(page.data):
        if event.id in seen:
            continue
        seen.add(event.id)
        data = event.data if isinstance(event.data, dict) else {}
        if event.type == "metrics" and "step" in data:
            info = {k: data[k] for k in ("train_loss", "valid_loss", "total_steps") if data.get(k) is not None}
            bar.update(max(0, int(data["step"]) - bar.n), **info)
        else:
            ctx.log(f"[{job_id}] {event.level}: {event.message}")
