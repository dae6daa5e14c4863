"""``workbench serve``: streamed chat through the real openai client, keys, limits, logging and feedback."""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.error
import urllib.request

import pytest
from openai import OpenAI


@pytest.fixture
def store(tmp_path):
    from workbench.feedback.store import FeedbackStore

    return FeedbackStore(tmp_path / "runs" / "feedback.sqlite")


@pytest.fixture
def served(store, tiny_model_dir):
    """Two tiny models (same weights, two names) and two testers' keys."""
    from workbench.feedback.server import FeedbackServer

    keys = {"ana": store.add_tester("ana"), "ben": store.add_tester("ben")}
    srv = FeedbackServer(store, {"a": str(tiny_model_dir), "b": str(tiny_model_dir)}, rate_limit=50).start()
    yield srv, keys
    srv.stop()


def post(url: str, body: bytes, key: str | None) -> tuple[int, dict, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)


PROMPT = [{"role": "user", "content": "My mail is ana@example.com, where is order 1234?"}]
#: a tiny random model's greedy answer is special tokens only (decoded: ""); sampling with a seed gives words
SAMPLED = {"temperature": 1.0, "seed": 3}


def test_openai_client_streams_and_the_exchange_is_logged_redacted(served, store):
    srv, keys = served
    client = OpenAI(api_key=keys["ana"], base_url=srv.url, max_retries=0)
    chunks = list(client.chat.completions.create(model="a", messages=PROMPT, max_tokens=12, stream=True, **SAMPLED))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "length"  # 12 sampled tokens, no stop token among them
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks).strip()
    assert len([c for c in chunks if c.choices[0].delta.content]) >= 2  # really in pieces, not one blob
    whole = client.chat.completions.create(model="a", messages=PROMPT, max_tokens=12, **SAMPLED)
    assert whole.choices[0].message.content == streamed  # same seed: the stream is the same answer
    assert whole.choices[0].finish_reason == "length"
    logged = store.exchange(chunks[0].id)
    assert logged["tester"] == "ana" and logged["model"] == "a" and logged["answer"] == streamed
    assert logged["messages"][0]["content"] == "My mail is [EMAIL], where is order 1234?"
    assert logged["settings"]["max_tokens"] == 12 and logged["first_token"] <= logged["latency"]
    raw = (store.path.read_bytes() + store.path.with_name(store.path.name + "-wal").read_bytes()
           if store.path.with_name(store.path.name + "-wal").exists() else store.path.read_bytes())
    assert b"ana@example.com" not in raw
    assert sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_keys_are_hashed_and_required(served, store):
    srv, keys = served
    assert keys["ana"].encode() not in store.path.read_bytes()
    body = json.dumps({"model": "a", "messages": PROMPT, "max_tokens": 2}).encode()
    assert post(srv.url + "/chat/completions", body, None)[0] == 401
    assert post(srv.url + "/chat/completions", body, "wb-not-a-key")[0] == 401
    assert post(srv.url + "/chat/completions", body, keys["ben"])[0] == 200


def test_body_size_and_rate_limits(store, tiny_model_dir):
    from workbench.feedback.server import FeedbackServer

    key = store.add_tester("ana")
    srv = FeedbackServer(store, {"a": str(tiny_model_dir)}, max_body=2000, rate_limit=3).start()
    try:
        big = json.dumps({"model": "a", "messages": [{"role": "user", "content": "x" * 5000}]}).encode()
        assert post(srv.url + "/chat/completions", big, key)[0] == 413
        statuses = [post(srv.url + "/feedback", b"{}", key)[0] for _ in range(3)]
        status, _, headers = post(srv.url + "/feedback", b"{}", key)
        assert statuses == [400, 400, 400] and status == 429 and int(headers["Retry-After"]) >= 1
    finally:
        srv.stop()


def test_other_address_refuses_to_start_without_keys(store, tiny_model_dir):
    from workbench.errors import WorkbenchError
    from workbench.feedback.server import FeedbackServer

    with pytest.raises(WorkbenchError, match="no tester keys"):
        FeedbackServer(store, {"a": str(tiny_model_dir)}, host="0.0.0.0")


def test_two_testers_give_feedback_at_once(served, store):
    srv, keys = served
    results: dict[str, list[int]] = {}

    def tester(name: str) -> None:
        client = OpenAI(api_key=keys[name], base_url=srv.url, max_retries=0)
        prompt = [{"role": "user", "content": f"Hello from {name}"}]
        a = client.chat.completions.create(model="a", messages=prompt, max_tokens=4)
        b = client.chat.completions.create(model="b", messages=prompt, max_tokens=4)
        url, key = srv.url + "/feedback", keys[name]
        results[name] = [
            post(url, json.dumps({"exchange_id": a.id, "kind": "rating", "rating": 4, "scale": "1-5"}).encode(), key)[0],
            post(url, json.dumps({"exchange_id": a.id, "kind": "correction", "text": "Hi! How can I help?"}).encode(), key)[0],
            post(url, json.dumps({"exchange_id": b.id, "kind": "comment", "text": "too short"}).encode(), key)[0],
            post(url, json.dumps({"exchange_id": b.id, "kind": "preference", "other_id": a.id}).encode(), key)[0],
            post(url, json.dumps({"exchange_id": a.id, "kind": "rating", "rating": 9, "scale": "1-5"}).encode(), key)[0],
        ]

    threads = [threading.Thread(target=tester, args=(n,)) for n in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {"ana": [200, 200, 200, 200, 400], "ben": [200, 200, 200, 200, 400]}
    feedback = store.feedback()
    assert len(feedback) == 8
    assert {(f["tester"], f["kind"]) for f in feedback} == {(n, k) for n in keys
                                                             for k in ("rating", "correction", "comment", "preference")}
    assert len(store.exchanges()) == 4
