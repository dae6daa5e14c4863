"""Fine-tuning jobs of the local server: validate, queue, train, publish the model.

One worker thread trains one job at a time (others stay ``queued``), so the
lifecycle the API reports is the real one: ``validating_files`` -> ``queued``
-> ``running`` -> ``succeeded`` / ``failed`` / ``cancelled``, with message and
metrics events, a checkpoint per epoch and the final ``fine_tuned_model``.
Uploaded files are checked by the shared validator
(:func:`workbench.io.validate.check_messages`); training is the shared local
trainer (:mod:`workbench.openai_server.tuning`).
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
import traceback
from typing import Any

from workbench.io.problems import ERROR
from workbench.io.records import Record
from workbench.io.validate import check_messages
from workbench.openai_server import preference, tuning
from workbench.openai_server.faults import Faults
from workbench.openai_server.state import ORGANIZATION, ApiError, ServerState, jsonl_objects, new_id
from workbench.training.estimate import default_epochs
from workbench.training.loop import TrainingCancelled

KEEP_CHECKPOINTS = 3


class JobError(Exception):
    """Ends a job ``failed`` with OpenAI's error object (code, message, param)."""

    def __init__(self, code: str, message: str, param: str | None) -> None:
        super().__init__(message)
        self.code, self.param = code, param


def read_examples(content: bytes, param: str) -> list[dict[str, Any]]:
    """Rows ``{id, messages}`` of a chat JSONL file; JobError naming the first invalid line."""
    code = "invalid_training_file" if param == "training_file" else "invalid_validation_file"
    rows = []
    for lineno, obj in jsonl_objects(content):
        if not isinstance(obj, dict):
            raise JobError(code, f"line {lineno}: expected a JSON object with a 'messages' list", param)
        rec = Record(lineno, obj, fields={"messages": obj.get("messages")})
        turns = check_messages(rec)
        errors = [p for p in rec.problems if p.severity == ERROR]
        if errors:
            raise JobError(code, f"line {lineno}: {errors[0].message} ({errors[0].field}: {errors[0].code})", param)
        rows.append({"id": f"line-{lineno}", "messages": turns})
    if not rows:
        raise JobError(code, "file has no examples", param)
    return rows


class JobRunner:
    """Creates jobs and trains them one at a time in a background thread."""

    def __init__(self, state: ServerState, faults: Faults, training: dict[str, Any] | None = None) -> None:
        self.state, self.faults = state, faults
        #: options of the shared trainer for every job (method, max_length, ...); checked now
        self.training = tuning.trainer_settings(training)
        self._queue: queue.Queue[str] = queue.Queue()
        self._cancel: set[str] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._work, name="fine-tuning-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """End the worker: a job in training stops at its next optimiser step; queued jobs are not started."""
        self._stopping.set()
        self._queue.put("")
        self._thread.join(timeout)

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
        method = body.get("method") or {}
        kind = method.get("type", "supervised")
        if kind not in ("supervised", "dpo"):
            raise ApiError(400, f"this server trains method types supervised and dpo, not {kind!r}", param="method")
        hp = dict(body.get("hyperparameters") or {})
        hp.update((method.get(kind) or {}).get("hyperparameters") or {})
        hyper = {k: hp.get(k, "auto") for k in ("n_epochs", "batch_size", "learning_rate_multiplier",
                                                *(("beta",) if kind == "dpo" else ()))}
        job_id = new_id("ftjob")
        job = {"object": "fine_tuning.job", "id": job_id, "model": model, "created_at": int(time.time()),
               "finished_at": None, "fine_tuned_model": None, "organization_id": ORGANIZATION, "result_files": [],
               "status": "validating_files", "validation_file": body.get("validation_file"),
               "training_file": body["training_file"], "hyperparameters": hyper, "trained_tokens": None,
               "error": None, "seed": body.get("seed") if body.get("seed") is not None else 42,
               "estimated_finish": None, "integrations": [], "metadata": body.get("metadata"),
               "method": {"type": kind, kind: {"hyperparameters": dict(hyper)}},
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
            if self._stopping.is_set():
                return
            if job_id in self._cancel:
                continue
            try:
                self._run(job_id)
            except TrainingCancelled:
                shutil.rmtree(self.state.data_dir / "models" / job_id, ignore_errors=True)
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
        kind = job["method"]["type"]
        read = read_examples if kind == "supervised" else lambda content, param: preference.read_pairs(content, param, JobError)
        train_rows = read(state.file_content(job["training_file"]), "training_file")
        val_rows = read(state.file_content(job["validation_file"]), "validation_file") if job["validation_file"] else []
        injected = self.faults.take("POST", "/fine_tuning/jobs", kinds=("job_failure",))
        if injected:
            raise JobError(injected.code, injected.message, injected.param)
        hp = job["hyperparameters"]
        hyper = tuning.Hyper(
            n_epochs=default_epochs(len(train_rows)) if hp["n_epochs"] == "auto" else int(hp["n_epochs"]),
            batch_size=min(8, len(train_rows)) if hp["batch_size"] == "auto" else int(hp["batch_size"]),
            learning_rate_multiplier=1.0 if hp["learning_rate_multiplier"] == "auto" else float(hp["learning_rate_multiplier"]),
            seed=int(job["seed"]))
        resolved = {"n_epochs": hyper.n_epochs, "batch_size": hyper.batch_size,
                    "learning_rate_multiplier": hyper.learning_rate_multiplier}
        if kind == "dpo":
            resolved["beta"] = 0.1 if hp.get("beta", "auto") == "auto" else float(hp["beta"])
        state.update_job(job_id, status="running", hyperparameters=resolved,
                         method={"type": kind, kind: {"hyperparameters": dict(resolved)}})
        state.add_event(job_id, "Fine-tuning job started")
        _, base_dir = state.model(job["model"])
        model_id = f"ft:{job['model']}:workbench:{job['user_provided_suffix'] or 'local'}:{job_id[-8:]}"
        if kind == "dpo":
            return self._run_dpo(job_id, base_dir, train_rows + val_rows, hyper, resolved["beta"], model_id)

        def on_metrics(data: dict[str, Any]) -> None:
            state.add_event(job_id, f"Step {data['step']}/{data['total_steps']}: training loss={data['train_loss']:.4f}",
                            data=data)

        done = tuning.finetune(base_dir, train_rows, val_rows, state.data_dir / "models" / job_id, hyper, self.training,
                               on_metrics=on_metrics, cancelled=lambda: job_id in self._cancel or self._stopping.is_set(),
                               log=lambda line: state.add_event(job_id, line),
                               keep_checkpoints=KEEP_CHECKPOINTS)
        if job_id in self._cancel or self._stopping.is_set():
            return
        for point in done.checkpoints:
            state.add_checkpoint(job_id, f"{model_id}:ckpt-step-{point.step}", point.folder, point.step, point.metrics)
        state.add_checkpoint(job_id, model_id, done.model_dir, done.steps, done.metrics)
        state.update_job(job_id, status="succeeded", finished_at=int(time.time()), fine_tuned_model=model_id,
                         trained_tokens=done.trained_tokens)
        state.add_event(job_id, f"New fine-tuned model created: {model_id}")
        state.add_event(job_id, "The job has successfully completed")

    def _run_dpo(self, job_id: str, base_dir: Any, rows: list[dict[str, Any]], hyper: tuning.Hyper, beta: float,
                 model_id: str) -> None:
        """A ``method: dpo`` job: the ``hf-dpo`` trainer, the merged model served as ``model_id``."""
        out = self.state.data_dir / "models" / job_id
        stats = preference.preference_tune(base_dir, rows, out, hyper, beta, log=lambda line: self.state.add_event(
            job_id, line), cancelled=lambda: job_id in self._cancel or self._stopping.is_set())
        if job_id in self._cancel or self._stopping.is_set():
            return
        metrics = {k: float(stats[k]) for k in ("train_loss", "heldout_margin_after") if stats.get(k) is not None}
        self.state.add_checkpoint(job_id, model_id, out / "model", stats["steps"], metrics)
        self.state.update_job(job_id, status="succeeded", finished_at=int(time.time()), fine_tuned_model=model_id)
        self.state.add_event(job_id, f"New fine-tuned model created: {model_id}")
        self.state.add_event(job_id, "The job has successfully completed")
