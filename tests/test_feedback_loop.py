"""The whole loop on tiny models: serve two models, two testers stream and give feedback at once, export the
feedback as preference pairs in a run, train hf-dpo, and see the held-out chosen-vs-rejected margin grow."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from openai import OpenAI

CORRECTION = "Thanks for asking! Your parcel ships today."


def test_serve_feedback_export_dpo(tmp_path, tiny_model_dir):
    from workbench.feedback.agreement import tester_agreement
    from workbench.feedback.server import FeedbackServer
    from workbench.feedback.store import FeedbackStore
    from workbench.lm.tiny import tiny_causal_lm
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import parse_runfile

    store = FeedbackStore(tmp_path / "runs" / "feedback.sqlite")
    keys = {name: store.add_tester(name) for name in ("ana", "ben")}
    other = tiny_causal_lm(tmp_path / "other", seed=1)
    srv = FeedbackServer(store, {"a": str(tiny_model_dir), "b": str(other)}).start()
    failures: list[BaseException] = []

    def tester(name: str, prompts: range) -> None:
        try:
            client = OpenAI(api_key=keys[name], base_url=srv.url, max_retries=0)
            for i in prompts:
                messages = [{"role": "user", "content": f"Where is parcel {i}?"}]
                ids = {}
                for model in ("a", "b"):
                    chunks = list(client.chat.completions.create(model=model, messages=messages, max_tokens=8,
                                                                 temperature=1.0, seed=i, stream=True))
                    ids[model] = chunks[0].id
                for body in ({"exchange_id": ids["a"], "kind": "correction", "text": CORRECTION},
                             {"exchange_id": ids["b"], "kind": "rating", "rating": 1, "scale": "thumbs"},
                             {"exchange_id": ids["a"], "kind": "rating", "rating": 0, "scale": "thumbs"}):
                    req = urllib.request.Request(srv.url + "/feedback", data=json.dumps(body).encode(), method="POST",
                                                 headers={"Authorization": f"Bearer {keys[name]}",
                                                          "Content-Type": "application/json"})
                    try:
                        urllib.request.urlopen(req, timeout=60).close()
                    except urllib.error.HTTPError as exc:
                        raise AssertionError(f"{body}: {exc.code} {exc.read().decode()}") from None
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=tester, args=("ana", range(7))),
               threading.Thread(target=tester, args=("ben", range(7, 14)))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    finally:
        srv.stop()
    assert not failures, failures
    assert len(store.exchanges()) == 28 and len(store.feedback()) == 42
    assert tester_agreement(store)["ratings"]["examples"] == 0  # each exchange rated by one tester only

    run = parse_runfile({"run": {"name": "round2", "seed": 3}, "steps": [
        {"kind": "load", "component": "feedback", "options": {"db": str(store.path), "rows": "preferences"}},
        {"kind": "clean", "component": "pii"},
        {"kind": "split", "options": {"train": 0.7, "validation": 0.3, "test": 0.0}},
        {"kind": "train", "component": "hf-dpo", "options": {
            "model": str(tiny_model_dir), "max_steps": 12, "batch_size": 4, "learning_rate": 5e-3, "lora_r": 4,
            "warmup_steps": 0, "scheduler": "constant", "eval_every": 6, "checkpoint_every": 6,
            "early_stopping_patience": 0, "max_length": 64, "device": "cpu", "threads": 1}},
    ]}, base_dir=tmp_path)
    outcome = execute(run)
    from workbench.feedback.export import preference_pairs

    # per prompt: the correction over a's answer, and b (thumbs up) over a (thumbs down) unless both said the same
    answers: dict[str, dict[str, str]] = {}
    for e in store.exchanges():
        answers.setdefault(e["messages"][-1]["content"], {})[e["model"]] = e["answer"].strip()
    differing = sum(a["a"] != a["b"] for a in answers.values())
    pairs = outcome.steps[0].manifest["rows_out"]
    assert len(answers) == 14 and differing > 0
    assert pairs == preference_pairs(store).height == 14 + differing
    stats = outcome.steps[-1].manifest["stats"]
    assert stats["validation_pairs"] > 0 and stats["steps"] == 12
    assert stats["heldout_margin_after"] > stats["heldout_margin_before"], stats
