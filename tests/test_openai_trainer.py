"""The OpenAI trainer through the real openai SDK against the local server.

Every request and response of every test is checked against OpenAI's
published spec (../shared/openai/openapi.yaml) when the server stops. The
server's jobs really train the tiny test model for a few steps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench import schema
from workbench.context import StepContext
from workbench.errors import WorkbenchError

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "openai" / "openapi.yaml"
KEY = "sk-wbtest-Zq8uNv3XkP0dISTINCTIVEfakeKEY42"
FAST = {"model": "tiny", "n_epochs": 2, "batch_size": 2, "learning_rate_multiplier": 10.0, "poll_interval": 0.2,
        "timeout": 10.0, "max_retries": 3, "max_wait": 120.0}


@pytest.fixture(scope="session")
def spec():
    if not SPEC.exists():
        pytest.skip(f"OpenAI spec not found at {SPEC}")
    from workbench.openai_server.spec import SpecChecker

    return SpecChecker(SPEC)


@pytest.fixture
def server(tmp_path, tiny_model_dir, spec, monkeypatch):
    """A recording server on a free port; all its exchanges must conform to the spec."""
    from workbench.openai_server import OpenAIServer

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    srv = OpenAIServer(tmp_path / "server", {"tiny": tiny_model_dir}, record=True).start()
    yield srv
    srv.stop()
    problems = [p for exchange in srv.exchanges for p in spec.check(exchange)]
    assert not problems, "\n".join(problems[:20])


def rows(n_train: int = 4, n_validation: int = 2, bad: bool = False):
    out = []
    for i in range(n_train + n_validation):
        messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": f"Order {i} status?"},
                    {"role": "assistant", "content": f"Order {i} has shipped."}]
        out.append({"id": f"r{i}", "messages": messages, "split": "train" if i < n_train else "validation"})
    if bad:
        out[1]["messages"] = out[1]["messages"][:2]
    return schema.from_rows(out)


def make_ctx(tmp_path: Path, logs: list[str], name: str = "01-train-openai") -> StepContext:
    run_dir = tmp_path / "runs" / "demo"
    return StepContext(step_dir=run_dir / "steps" / f"{name}.partial", run_dir=run_dir, step_name=name, seed=3,
                       log=logs.append, cancel_file=run_dir / "CANCEL")


def train(server, ctx, **options):
    from workbench.plugins.openai.trainer import OpenAITrainer

    return OpenAITrainer({**FAST, "base_url": server.url, **options}).run(rows(), ctx)


def counts(server) -> tuple[int, int]:
    return len(server.state.files), len(server.state.jobs)


def assert_no_key(tmp_path: Path, *texts: str) -> None:
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"API key found in {path}"
    for text in texts:
        assert KEY not in text


def test_full_path_upload_job_events_model_chat_and_reuse(server, tmp_path, capfd):
    logs: list[str] = []
    result = train(server, make_ctx(tmp_path, logs))
    model = result.stats["fine_tuned_model"]
    assert model.startswith("ft:tiny:workbench:") and result.artifacts["model"] == f"openai:{model}"
    step = tmp_path / "runs" / "demo" / "steps" / "01-train-openai.partial"
    job = json.loads((step / "job.json").read_text())
    assert job["status"] == "succeeded" and job["fine_tuned_model"] == model
    assert job["hyperparameters"]["n_epochs"] == 2 and job["validation_file"]
    checkpoints = json.loads((step / "checkpoints.json").read_text())  # newest first: final model, epoch 1
    assert [c["fine_tuned_model_checkpoint"] for c in checkpoints] == [model, f"{model}:ckpt-step-2"]
    assert [c["step_number"] for c in checkpoints] == [4, 2] and "valid_loss" in checkpoints[1]["metrics"]
    assert json.loads((step / "estimate.json").read_text())["examples"] == 4
    assert any("New fine-tuned model created" in line for line in logs)
    progress = json.loads((step / "progress.json").read_text())
    assert progress["n"] == progress["info"]["total_steps"] == 4 and "train_loss" in progress["info"]
    assert "valid_loss" in progress["info"]  # validation file -> validation loss at each epoch's end
    assert counts(server) == (2, 1)

    from workbench.lm.generation import DecodeSettings, chat_model

    answer = chat_model(f"openai:{model}", base_url=server.url).chat(
        [[{"role": "user", "content": "Order 1 status?"}]], DecodeSettings(max_new_tokens=5))[0]
    assert 0 < answer.new_tokens <= 5
    epoch_one = chat_model(f"openai:{model}:ckpt-step-2", base_url=server.url).chat(
        [[{"role": "user", "content": "Order 1 status?"}]], DecodeSettings(max_new_tokens=3))[0]
    assert 0 < epoch_one.new_tokens <= 3  # a checkpoint is a servable model too

    # a second step with the same data: both uploads re-used, no second job
    again = train(server, make_ctx(tmp_path, logs))
    assert again.stats["fine_tuned_model"] == model and counts(server) == (2, 1)
    # a different step name: same uploads, a new job
    train(server, make_ctx(tmp_path, logs, name="02-train-openai"), n_epochs=1)
    assert counts(server) == (2, 2)
    captured = capfd.readouterr()
    assert_no_key(tmp_path, "\n".join(logs), captured.out, captured.err)


def test_429_500_drop_and_slow_are_retried_without_duplicates(server, tmp_path):
    server.faults.add("429", path="/files", method="POST", count=2, retry_after=0.5)
    server.faults.add("500", path="/fine_tuning/jobs", method="POST", count=1)
    server.faults.add("drop", path="/fine_tuning/jobs/", method="GET", count=1)
    server.faults.add("slow", path="/fine_tuning/jobs/", method="GET", count=1, seconds=3.0)
    started = time.monotonic()
    result = train(server, make_ctx(tmp_path, []), timeout=1.0)
    assert result.artifacts["model"].startswith("openai:ft:tiny")
    assert time.monotonic() - started >= 1.0  # two Retry-After: 0.5 honoured
    assert counts(server) == (2, 1)
    statuses = [e["status"] for e in server.exchanges]
    assert statuses.count(429) == 2 and statuses.count(500) == 1


def test_retry_after_is_honoured_by_the_sdk(server):
    from openai import OpenAI

    client = OpenAI(api_key=KEY, base_url=server.url, max_retries=2)
    server.faults.add("429", path="/models", count=1, retry_after=1.5)
    started = time.monotonic()
    assert client.models.list().data[0].id == "tiny"
    assert time.monotonic() - started >= 1.5


def test_persistent_failure_names_the_job_and_hides_the_key(server, tmp_path):
    ctx = make_ctx(tmp_path, [])
    server.faults.add("500", path="/fine_tuning/jobs/", method="GET", count=100)
    with pytest.raises(WorkbenchError) as info:
        train(server, ctx, max_retries=1)
    job_id = next(iter(server.state.jobs))
    assert job_id in str(info.value) and "HTTP 500" in str(info.value) and KEY not in str(info.value)
    server.faults.clear()
    # the re-run re-attaches to the recorded job
    train(server, ctx)
    assert counts(server) == (2, 1)


def test_failed_job_shows_code_message_and_param(server, tmp_path):
    ctx = make_ctx(tmp_path, [])
    server.faults.add("job_failure", code="invalid_training_file", message="line 3: too many tokens",
                      param="training_file")
    with pytest.raises(WorkbenchError) as info:
        train(server, ctx)
    text = str(info.value)
    assert "failed: invalid_training_file: line 3: too many tokens (param: training_file)" in text
    # the re-run starts a new job instead of re-attaching to the failed one
    assert train(server, ctx).artifacts["model"].startswith("openai:ft:tiny") and counts(server) == (2, 2)


def test_server_fails_a_job_on_an_invalid_file(server):
    from openai import OpenAI

    client = OpenAI(api_key=KEY, base_url=server.url)
    bad = b'{"messages": [{"role": "user", "content": "hi"}]}\n'
    file_id = client.files.create(file=("bad.jsonl", bad), purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(model="tiny", training_file=file_id)
    deadline = time.monotonic() + 60
    while job.status != "failed" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "failed", job.status
    assert (job.error.code, job.error.param) == ("invalid_training_file", "training_file")
    assert "line 1: no assistant turn (messages: no_assistant_message)" in job.error.message


def test_invalid_rows_are_refused_before_any_upload(server, tmp_path):
    from workbench.plugins.openai.trainer import OpenAITrainer

    with pytest.raises(WorkbenchError, match=r"train.jsonl line 2 \(row r1\): no assistant turn \(messages: no_assistant_message\)"):
        OpenAITrainer({**FAST, "base_url": server.url}).run(rows(bad=True), make_ctx(tmp_path, []))
    assert counts(server) == (0, 0)


def test_cancel_cancels_the_remote_job(server, tmp_path):
    ctx = make_ctx(tmp_path, [])
    ctx.cancel_file.parent.mkdir(parents=True, exist_ok=True)
    ctx.cancel_file.write_text("stop")
    with pytest.raises(WorkbenchError, match="cancelled"):
        train(server, ctx, n_epochs=50)
    assert next(iter(server.state.jobs.values()))["status"] == "cancelled"


def test_reattach_after_the_client_process_is_killed(server, tmp_path):
    script = tmp_path / "client.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_openai_trainer import make_ctx, rows, FAST
        from workbench.plugins.openai.trainer import OpenAITrainer
        OpenAITrainer({{**FAST, "base_url": {server.url!r}, "n_epochs": 15}}).run(rows(), make_ctx(Path({str(tmp_path)!r}), []))
    """))
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    record = tmp_path / "runs" / "demo" / "steps" / "01-train-openai.partial" / "job.json"
    try:
        deadline = time.monotonic() + 60
        while not record.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert record.exists(), proc.stdout.read().decode() if proc.poll() is not None else "no job.json in 60 s"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        output = proc.communicate()[0].decode()
    job_id = json.loads(record.read_text())["id"]
    assert server.state.jobs[job_id]["status"] in ("validating_files", "queued", "running")
    logs: list[str] = []
    result = train(server, make_ctx(tmp_path, logs), n_epochs=15)
    assert result.stats["job_id"] == job_id and counts(server) == (2, 1)
    assert_no_key(tmp_path, output, "\n".join(logs))


def test_spec_checker_reports_a_missing_required_field(spec):
    exchange = {"method": "GET", "template": "/files/{file_id}", "path": "/files/f1", "status": 200, "request": None,
                "response": {"id": "f1", "object": "file", "bytes": 3, "created_at": 1, "filename": "a", "status": "processed"}}
    assert any("'purpose' is a required property" in p for p in spec.check(exchange))


def test_run_file_load_split_train_openai_evaluate_through_the_server(tmp_path, tiny_model_dir, spec, monkeypatch,
                                                                        capfd):
    """load -> split -> train (openai, LoRA server) -> evaluate the tuned model through chat completions."""
    from workbench.openai_server import OpenAIServer
    from workbench.runtime import store
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import parse_runfile

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    srv = OpenAIServer(tmp_path / "server", {"tiny": tiny_model_dir}, record=True, training={"method": "lora"}).start()
    try:
        data = tmp_path / "chat.jsonl"
        data.write_text("".join(json.dumps({"id": r["id"], "messages": r["messages"]}) + "\n"
                                for r in rows(8, 4).to_dicts()))
        runfile = parse_runfile({"run": {"name": "openai-e2e", "seed": 3}, "steps": [
            {"kind": "load", "options": {"path": str(data)}},
            {"kind": "split", "options": {"train": 0.5, "validation": 0.25, "test": 0.25, "stratify_by": None}},
            {"kind": "train", "component": "openai", "options": {**FAST, "base_url": srv.url, "n_epochs": 1}},
            {"kind": "evaluate", "options": {
                "base_model": "openai:tiny", "base_url": srv.url, "decode": {"max_new_tokens": 4},
                "metrics": ["chrf", "exact_match", "answer_length"], "forgetting_probe": False,
                "include_scenarios": False, "bootstrap_resamples": 20, "ar_trials": 20}},
        ]}, base_dir=tmp_path)
        outcome = execute(runfile, runs_dir=tmp_path / "runs")
    finally:
        srv.stop()
    tuned = outcome.artifacts["train.model"]
    assert tuned.startswith("openai:ft:tiny:workbench:")
    results = store.read_json(outcome.steps[-1].folder / "results.json")
    n_test = outcome.table.filter(outcome.table["split"] == "test").height
    assert n_test and results["n_examples"] == n_test
    # the random tiny model never ends a turn: every answer is cut, which the server reports as finish_reason "length"
    assert results["generation"]["tuned"] == {"generated": n_test, "cached": 0, "hit_max_new_tokens": n_test}
    assert "chrf" in results["scores"]["tuned"] and "chrf" in results["comparisons"]["tuned"]
    chats = [e["request"]["model"] for e in srv.exchanges if e["template"] == "/chat/completions" and e["status"] == 200]
    assert chats.count(tuned.split(":", 1)[1]) == n_test and chats.count("tiny") == n_test
    problems = [p for exchange in srv.exchanges for p in spec.check(exchange)]
    assert not problems, "\n".join(problems[:20])
    captured = capfd.readouterr()
    assert_no_key(tmp_path / "runs" / "openai-e2e", captured.out, captured.err)
    assert_no_key(tmp_path)
