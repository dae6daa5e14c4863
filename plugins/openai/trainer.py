"""The ``openai`` trainer: fine-tune through OpenAI's API (or any compatible service).

Steps: export train/validation to chat JSONL (refusing invalid rows), estimate
tokens and cost, upload each file once, create one job per step (recorded in
the step folder at once), follow it to the end, and hand the tuned model id on
as the ``model`` artifact (``openai:<id>``), which evaluation calls through chat completions.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import Field

from workbench.components import Options, Trainer, form
from workbench.context import StepContext
from workbench.errors import WorkbenchError
from workbench.ledger import StepResult
from workbench.training.estimate import DEFAULT_MODEL


class OpenAITrainerOptions(Options):
    model: str = Field(default=DEFAULT_MODEL, description="Base model to fine-tune")
    base_url: str | None = Field(default=None, description="API base URL (null: OpenAI's); any OpenAI-compatible service")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="Environment variable holding the API key")
    n_epochs: int | None = Field(default=None, ge=1, le=50, description="Epochs (null: auto)")
    batch_size: int | None = Field(default=None, ge=1, le=256, description="Batch size (null: auto)")
    learning_rate_multiplier: float | None = Field(default=None, gt=0, description="Learning-rate multiplier (null: auto)")
    suffix: str | None = Field(default=None, max_length=64, description="Suffix in the fine-tuned model's name")
    seed: int | None = Field(default=None, description="Job seed (null: the run's seed)")
    poll_interval: float = Field(default=10.0, gt=0, description="Seconds between status polls")
    timeout: float = Field(default=60.0, gt=0, description="Seconds before one API request times out")
    max_retries: int = Field(default=5, ge=0, description="Retries of a request on 429, 5xx, timeouts and dropped connections")
    max_wait: float | None = Field(default=None, gt=0, description="Give up following the job after this many seconds (null: never)")
    max_tokens_per_example: int | None = Field(default=None, ge=1, description="Context limit for the estimate (null: the model's)")
    prices: dict[str, float] = Field(default_factory=dict, description="USD per 1M training tokens by model (overrides the built-in table)")
    method: Literal["auto", "supervised", "dpo"] = Field(
        default="auto", description="supervised, dpo (preference pairs), or auto: dpo when every train row is a "
        "preference pair (meta.rejected, e.g. from the feedback loader)")
    beta: float | None = Field(default=None, gt=0, description="dpo: how far the model may move from the reference "
                               "(null: auto)")

    form_layout: ClassVar[dict[str, dict[str, Any]]] = {
        **dict.fromkeys(("base_url", "api_key_env", "suffix"), form("basic", advanced=True)),
        "learning_rate_multiplier": form("optimisation", scale="log"),
        **dict.fromkeys(("n_epochs", "batch_size", "seed", "method", "beta"), form("optimisation")),
        **dict.fromkeys(("poll_interval", "timeout", "max_retries", "max_wait", "max_tokens_per_example", "prices"),
                        form("advanced", advanced=True)),
    }


class OpenAITrainer(Trainer):
    name = "openai"
    description = "Fine-tune through the OpenAI API (or a compatible service): estimate, upload once, follow, re-attach"
    version = "1"
    Options = OpenAITrainerOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        from workbench.plugins.openai import remote
        from workbench.plugins.openai.export import export_preferences, export_split, is_preference_table
        from workbench.plugins.openai.follow import follow
        from workbench.training.estimate import estimate

        o = self.options
        key = ctx.secret(o.api_key_env)
        if not key:
            raise WorkbenchError(f"no API key: environment variable {o.api_key_env} is not set",
                                 hint=f"export {o.api_key_env}=... (or enter it in the UI); it is never stored")
        ctx.step_dir.mkdir(parents=True, exist_ok=True)
        dpo = o.method == "dpo" or (o.method == "auto" and is_preference_table(table))
        export = export_preferences if dpo else export_split
        train = export(table, "train", ctx.step_dir)
        if train is None:
            raise WorkbenchError("no rows with split 'train' to fine-tune on", hint="add a split step before training")
        validation = export(table, "validation", ctx.step_dir)
        est = estimate(train.conversations, model=o.model, epochs=o.n_epochs,
                       max_tokens_per_example=o.max_tokens_per_example, prices=o.prices)
        (ctx.step_dir / "estimate.json").write_text(json.dumps(est.as_dict(), indent=2))
        ctx.log(f"estimate: {est.summary()}")

        client = remote.make_client(o.base_url, key, o.timeout, o.max_retries)
        state_file = (ctx.run_dir or ctx.step_dir) / remote.UPLOADS_FILE
        hyper = {k: v for k, v in (("n_epochs", o.n_epochs), ("batch_size", o.batch_size),
                                   ("learning_rate_multiplier", o.learning_rate_multiplier)) if v is not None}
        request: dict[str, Any] = {
            "model": o.model, "training_file": remote.upload_once(client, train.path, train.sha256, state_file, key),
            "seed": ctx.seed if o.seed is None else o.seed}
        if dpo:  # OpenAI takes a preference job's hyperparameters in its method only
            request["method"] = {"type": "dpo", "dpo": {"hyperparameters": {
                **hyper, **({"beta": o.beta} if o.beta is not None else {})}}}
        else:
            request["hyperparameters"] = hyper
        if validation is not None:
            request["validation_file"] = remote.upload_once(client, validation.path, validation.sha256, state_file, key)
        if o.suffix:
            request["suffix"] = o.suffix
        step_key = hashlib.sha256(json.dumps([str(ctx.run_dir), ctx.step_name, request], sort_keys=True)
                                  .encode()).hexdigest()[:32]
        job_id = remote.find_or_create_job(client, ctx.step_dir, request, step_key, key)
        ctx.log(f"following OpenAI fine-tuning job {job_id}")
        job = follow(client, job_id, ctx, poll_interval=o.poll_interval, max_wait=o.max_wait, key=key)
        if job.status != "succeeded":
            remote.set_aside(ctx.step_dir, job)
            if job.status == "cancelled":
                raise WorkbenchError(f"OpenAI fine-tuning job {job_id} was cancelled")
            err = job.error
            raise WorkbenchError(remote.redact(
                f"OpenAI fine-tuning job {job_id} failed: {getattr(err, 'code', None)}: "
                f"{getattr(err, 'message', 'no error message')} (param: {getattr(err, 'param', None)})", key),
                hint="fix the cause (the param names the file at fault) and re-run: a new job is created")
        with remote.api_errors("fine_tuning.jobs.checkpoints.list", key, job_id):
            checkpoints = [c.model_dump(mode="json") for c in client.fine_tuning.jobs.checkpoints.list(job_id)]
        (ctx.step_dir / remote.JOB_FILE).write_text(json.dumps(job.model_dump(mode="json"), indent=2))
        (ctx.step_dir / "checkpoints.json").write_text(json.dumps(checkpoints, indent=2))
        # a chat-model reference (workbench.lm.generation.chat_model): evaluation calls it through chat completions
        artifacts = {"model": f"openai:{job.fine_tuned_model}", "job": remote.JOB_FILE, "train_file": train.path.name,
                     "estimate": "estimate.json", "checkpoints": "checkpoints.json"}
        if validation is not None:
            artifacts["validation_file"] = validation.path.name
        stats = {"job_id": job_id, "method": "dpo" if dpo else "supervised", "fine_tuned_model": job.fine_tuned_model, "trained_tokens": job.trained_tokens,
                 "train_examples": train.examples, "validation_examples": validation.examples if validation else 0,
                 "estimated_billed_tokens": est.billed_tokens, "estimated_cost": est.estimated_cost,
                 "token_count_method": est.token_count_method}
        return StepResult(table, stats=stats, artifacts=artifacts)
