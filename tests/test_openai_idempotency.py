"""Idempotency keys hold under concurrency: a retry racing the first request gets its answer, not a second upload."""

from __future__ import annotations

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
