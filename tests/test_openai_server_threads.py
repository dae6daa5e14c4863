"""The local OpenAI server's threads: idempotency under concurrent retries, and a worker that stops with the server."""

from __future__ import annotations

import json
import threading
import time

from openai import OpenAI


def test_concurrent_uploads_with_one_idempotency_key_store_one_file(tmp_path, tiny_model_dir):
    from workbench.openai_server import OpenAIServer

    srv = OpenAIServer(tmp_path / "server", {"tiny": tiny_model_dir}, api_key="sk-local").start()
    upload = srv.api.routes[("POST", "/files")]
    calls = []

    def slow_upload(params, query, body):  # the first request is still being handled when the retry arrives
        calls.append(1)
        time.sleep(0.5)
        return upload(params, query, body)

    srv.api.routes[("POST", "/files")] = slow_upload
    client = OpenAI(api_key="sk-local", base_url=srv.url, max_retries=0)
    ids: list[str] = []

    def send() -> None:
        created = client.files.create(file=("train.jsonl", b'{"messages": []}\n'), purpose="fine-tune",
                                      extra_headers={"Idempotency-Key": "same-upload"})
        ids.append(created.id)

    try:
        threads = [threading.Thread(target=send) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(ids) == 3 and len(set(ids)) == 1, ids
        assert len(calls) == 1
        assert [f.id for f in client.files.list().data] == ids[:1]
    finally:
        srv.stop()


def test_stopping_the_server_stops_a_job_in_training(tmp_path, tiny_model_dir):
    from workbench.openai_server import OpenAIServer

    srv = OpenAIServer(tmp_path / "server", {"tiny": tiny_model_dir}, api_key="sk-local").start()
    client = OpenAI(api_key="sk-local", base_url=srv.url, max_retries=0)
    lines = "".join(json.dumps({"messages": [{"role": "user", "content": f"Order {i}?"},
                                             {"role": "assistant", "content": f"Order {i} shipped."}]}) + "\n"
                    for i in range(16))
    training_file = client.files.create(file=("train.jsonl", lines.encode()), purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(model="tiny", training_file=training_file,
                                         hyperparameters={"n_epochs": 200, "batch_size": 1})  # thousands of steps
    deadline = time.monotonic() + 120
    while not any(e.message.startswith("Step ") for e in client.fine_tuning.jobs.list_events(job.id).data):
        assert time.monotonic() < deadline, "the job never started training"
        time.sleep(0.2)
    worker = srv.api.jobs._thread
    srv.stop()
    assert not worker.is_alive()  # stop() waited for the worker to leave the training loop
    assert srv.state.job(job.id)["status"] == "running" and srv.state.job(job.id)["fine_tuned_model"] is None
