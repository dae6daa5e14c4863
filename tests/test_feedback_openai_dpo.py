"""Preference data through the OpenAI trainer: a ``method: dpo`` job that the local server trains with hf-dpo."""

from __future__ import annotations

import json
from pathlib import Path

import httpx  # noqa: F401 - imported before the server's job thread imports it (via TRL) while the openai SDK,

#                   in this same process, looks for a loaded httpx: a half-imported one fails its check
import pytest

from workbench import schema
from workbench.context import StepContext

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "openai" / "openapi.yaml"
KEY = "sk-wbtest-dpo-Zq8uNv3XkP0fakeKEY42"


def preference_table():
    rows = []
    for i in range(6):
        rows.append({"id": f"p{i}", "split": "train" if i < 4 else "validation",
                     "messages": [{"role": "user", "content": f"Where is parcel {i}?"},
                                  {"role": "assistant", "content": "It ships today."}],
                     "meta": {"rejected": "No idea."}})
    return schema.from_rows(rows)


def test_preference_rows_become_a_dpo_job_the_local_server_trains(tmp_path, tiny_model_dir, monkeypatch):
    from workbench.lm.generation import DecodeSettings, chat_model
    from workbench.openai_server import OpenAIServer
    from workbench.plugins.openai.trainer import OpenAITrainer

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    srv = OpenAIServer(tmp_path / "server", {"tiny": tiny_model_dir}, record=True).start()
    try:
        step = tmp_path / "runs" / "r" / "steps" / "03-train-openai.partial"
        ctx = StepContext(step_dir=step, run_dir=step.parents[1], step_name="03-train-openai", seed=2,
                          log=lambda m: None)
        result = OpenAITrainer({"model": "tiny", "base_url": srv.url, "n_epochs": 1, "batch_size": 2, "beta": 2.0,
                                # > 1: the spec checker reads OpenAPI 3.0's boolean exclusiveMinimum as a bound of 1
                                "learning_rate_multiplier": 4.0, "poll_interval": 1.0, "max_wait": 300.0}).run(preference_table(), ctx)
        assert result.stats["method"] == "dpo"
        first = json.loads((step / "train.jsonl").read_text().splitlines()[0])
        assert first == {"input": {"messages": [{"role": "user", "content": "Where is parcel 0?"}]},
                         "preferred_output": [{"role": "assistant", "content": "It ships today."}],
                         "non_preferred_output": [{"role": "assistant", "content": "No idea."}]}
        job = json.loads((step / "job.json").read_text())
        assert job["status"] == "succeeded" and job["method"]["type"] == "dpo"
        assert job["method"]["dpo"]["hyperparameters"]["beta"] == 2.0
        answer = chat_model(result.artifacts["model"], base_url=srv.url).chat(
            [[{"role": "user", "content": "Where is parcel 9?"}]], DecodeSettings(max_new_tokens=3))[0]
        assert answer.new_tokens <= 3
    finally:
        srv.stop()
    if SPEC.exists():
        from workbench.openai_server.spec import SpecChecker

        problems = [p for exchange in srv.exchanges for p in SpecChecker(SPEC).check(exchange)]
        assert not problems, "\n".join(problems[:20])


def test_a_bad_preference_line_fails_the_job_naming_it(tmp_path, tiny_model_dir):
    from openai import OpenAI

    from workbench.openai_server import OpenAIServer

    srv = OpenAIServer(tmp_path / "server", {"tiny": tiny_model_dir}).start()
    try:
        client = OpenAI(api_key="sk-local", base_url=srv.url, max_retries=0)
        good = {"input": {"messages": [{"role": "user", "content": "Hi"}]},
                "preferred_output": [{"role": "assistant", "content": "Hello!"}],
                "non_preferred_output": [{"role": "assistant", "content": "What."}]}
        content = (json.dumps(good) + "\n" + json.dumps({"input": {"messages": []}}) + "\n").encode()
        file = client.files.create(file=("pairs.jsonl", content), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model="tiny", training_file=file.id,
                                             method={"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 1}}})
        import time

        for _ in range(100):
            job = client.fine_tuning.jobs.retrieve(job.id)
            if job.status in ("failed", "succeeded"):
                break
            time.sleep(0.2)
        assert job.status == "failed" and job.error.code == "invalid_training_file"
        assert job.error.message.startswith("line 2:")
        with pytest.raises(Exception, match="supervised and dpo"):
            client.fine_tuning.jobs.create(model="tiny", training_file=file.id, method={"type": "reinforcement"})
    finally:
        srv.stop()
