"""Fine-tuning jobs of the local server: validate, queue, train, publish the model.

One worker thread trains one job at a time (others stay ``queued``), so the
lifecycle the API reports is the real one: ``validating_files`` -> ``queued``
-> ``running`` -> ``succeeded`` / ``failed`` / ``cancelled``, with message and
metrics events, a checkpoint per epoch and the final ``fine_tuned_model``.
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
import traceback
from typing import Any

from workbench.estimate import default_epochs
from workbench.openai_server.faults import Faults
from workbench.openai_server.state import ORGANIZATION, ApiError, ServerState, new_id
from workbench.openai_server.train import TrainConfig, finetune

KEEP_CHECKPOINTS = 3


class JobError(Exception):
    """Ends a job ``failed`` with OpenAI's error object (code, message, param)."""

    def __init__(self, code: str, message: str, param: str | None) -> None:
        super().__init__(message)
        self.code, self.param = code, param


def read_examples(content: bytes, param: str) -> list[list[dict[str, Any]]]:
    """Parse chat JSONL the way the service checks it; raise JobError naming the line."""
    code = "invalid_training_file" if param == "training_file" else "invalid_validation_file"
    examples = []
    for lineno, line in enumerate(content.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            messages = json.loads(line)["messages"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise JobError(code, f"line {lineno}: expected a JSON object with a 'messages' list", param) from None
        if not isinstance(messages, list) or not any(isinstance(m, dict) and m.get("role") == "assistant"
                                                     for m in messages):
            raise JobError(code, f"line {lineno}: example has no assistant message", param)
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") \
                    or not isinstance(m.get("content"), str):
                raise JobError(code, f"line {lineno}: every message needs a role (system/user/assistant) and a text "
                                  "content", param)
        examples.append(messages)
    if not examples:
        raise JobError(code, "file has no examples", param)
    return examples


class JobRunner:
    """Creates jobs and trains them one at a time in a background thread."""

    def __init__(self, state: ServerState, faults: Faults) -> None:
        self.state, self.faults = state, faults
        self._queue: queue.Queue[str] = queue.Queue()
        self._cancel: set[str] = set()
        self._thread = threading.Thread(target=self._work, name="fine-tuning-worker", daemon=True)
        self._thread.start()

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        if not isinstance(model, str):
            raise ApiError(400, "model is required", param="model", code="missing_required_parameter")
        self.state.model(model)
        for param in ("training_file", "validation_file"):
            if body.get(param) is not None:
                self.state.file(body[param])
        if not body.get("training_file"):
            raise ApiError(400, "training_file is required", param="training_file", code="missing_required_parameter")
        hp = dict(body.get("hyperparameters") or {})
        hp.update(((body.get("method") or {}).get("supervised") or {}).get("hyperparameters") or {})
        hyper = {k: hp.get(k, "auto") for k in ("n_epochs", "batch_size", "learning_rate_multiplier")}
        job_id = new_id("ftjob")
        job = {"object": "fine_tuning.job", "id": job_id, "model": model, "created_at": int(time.time()),
               "finished_at": None, "fine_tuned_model": None, "organization_id": ORGANIZATION, "result_files": [],
               "status": "validating_files", "validation_file": body.get("validation_file"),
               "training_file": body["training_file"], "hyperparameters": hyper, "trained_tokens": None,
               "error": None, "seed": body.get("seed") if body.get("seed") is not None else 42,
               "estimated_finish": None, "integrations": [], "metadata": body.get("metadata"),
               "method": {"type": "supervised", "supervised": {"hyperparameters": dict(hyper)}},
               "user_provided_suffix": body.get("suffix")}
        with self.state.lock:
            self.state.jobs[job_id] = job
        self.state.add_event(job_id, f"Created fine-tuning job: {job_id}")
        self._queue.put(job_id)
        return job

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self.state.job(job_id)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            raise ApiError(400, f"Job {job_id} has already {job['status']}", param="fine_tuning_job_id")
        self._cancel.add(job_id)
        self.state.update_job(job_id, status="cancelled", finished_at=int(time.time()))
        self.state.add_event(job_id, "Fine-tuning job cancelled")
        return self.state.job(job_id)

    # -- the worker --------------------------------------------------------
    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id in self._cancel:
                continue
            try:
                self._run(job_id)
            except JobError as exc:
                self._fail(job_id, exc.code, str(exc), exc.param)
            except Exception as exc:  # noqa: BLE001 - any training fault becomes the job's error
                traceback.print_exc()
                self._fail(job_id, "server_error", f"training failed: {type(exc).__name__}: {exc}", None)

    def _fail(self, job_id: str, code: str, message: str, param: str | None) -> None:
        self.state.update_job(job_id, status="failed", finished_at=int(time.time()),
                              error={"code": code, "message": message, "param": param})
        self.state.add_event(job_id, f"Fine-tuning job failed: {message}", level="error")

    def _run(self, job_id: str) -> None:
        state = self.state
        job = state.job(job_id)
        state.add_event(job_id, "Validating training file: " + job["training_file"])
        examples = read_examples(state.file_content(job["training_file"]), "training_file")
        if job["validation_file"]:
            read_examples(state.file_content(job["validation_file"]), "validation_file")
        injected = self.faults.take("POST", "/fine_tuning/jobs", kinds=("job_failure",))
        if injected:
            raise JobError(injected.code, injected.message, injected.param)
        hp = job["hyperparameters"]
        config = TrainConfig(
            n_epochs=default_epochs(len(examples)) if hp["n_epochs"] == "auto" else int(hp["n_epochs"]),
            batch_size=min(8, len(examples)) if hp["batch_size"] == "auto" else int(hp["batch_size"]),
            learning_rate_multiplier=1.0 if hp["learning_rate_multiplier"] == "auto" else float(hp["learning_rate_multiplier"]),
            seed=int(job["seed"]))
        resolved = {"n_epochs": config.n_epochs, "batch_size": config.batch_size,
                    "learning_rate_multiplier": config.learning_rate_multiplier}
        state.update_job(job_id, status="running", hyperparameters=resolved,
                         method={"type": "supervised", "supervised": {"hyperparameters": dict(resolved)}})
        state.add_event(job_id, "Fine-tuning job started")
        _, base_dir = state.model(job["model"])
        model_id = f"ft:{job['model']}:workbench:{job['user_provided_suffix'] or 'local'}:{job_id[-8:]}"
        out_dir = state.data_dir / "models" / job_id
        last: dict[str, float] = {}

        def on_step(step: int, total: int, loss: float, tokens: int) -> None:
            last.update(step=step, train_loss=loss)
            state.add_event(job_id, f"Step {step}/{total}: training loss={loss:.4f}",
                            data={"step": step, "total_steps": total, "train_loss": loss, "tokens": tokens})

        def on_epoch(epoch: int, model: Any, tokenizer: Any) -> None:
            if epoch == config.n_epochs:
                return
            folder = out_dir.with_name(f"{job_id}-epoch{epoch}")
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            state.add_checkpoint(job_id, f"{model_id}:ckpt-step-{int(last['step'])}", folder, int(last["step"]),
                                 dict(last))
            self._prune_checkpoints(job_id)

        trained = finetune(str(base_dir), examples, out_dir, config, on_step=on_step, on_epoch=on_epoch,
                           cancelled=lambda: job_id in self._cancel)
        if job_id in self._cancel:
            return
        state.add_checkpoint(job_id, model_id, out_dir, int(last.get("step", 0)), dict(last))
        state.update_job(job_id, status="succeeded", finished_at=int(time.time()), fine_tuned_model=model_id,
                         trained_tokens=trained)
        state.add_event(job_id, f"New fine-tuned model created: {model_id}")
        state.add_event(job_id, "The job has successfully completed")

    def _prune_checkpoints(self, job_id: str) -> None:
        with self.state.lock:
            points = self.state.checkpoints.get(job_id, [])
            while len(points) > KEEP_CHECKPOINTS - 1:
                old = points.pop(0)
                _, folder = self.state.models.pop(old["fine_tuned_model_checkpoint"])
                shutil.rmtree(folder, ignore_errors=True)
