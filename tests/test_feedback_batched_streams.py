"""Concurrent chats decoded together: each stream gets its own answer, the one it would get alone."""

from __future__ import annotations

import threading

import pytest

from workbench.feedback.stream import BatchedStreams
from workbench.lm.generation import DecodeSettings, LocalChatModel

CONVERSATIONS = [[{"role": "user", "content": "word " * n}] for n in (2, 9, 4, 15)]


@pytest.fixture
def model(varied_model_dir, monkeypatch):
    """The varied tiny model (greedy answers with words); each decode's rows recorded in ``model.batches`` as it
    starts, the tokens it decoded in ``model.widths`` as it ends."""
    model = LocalChatModel(str(varied_model_dir), device="cpu")
    model.batches, model.widths = [], []  # type: ignore[attr-defined]
    original = LocalChatModel.generate_rows

    def recording(self, rows, settings, **generate):
        self.batches.append(len(rows))
        out = original(self, rows, settings, **generate)
        self.widths.append(out.shape[1])
        return out

    monkeypatch.setattr(LocalChatModel, "generate_rows", recording)
    return model


def stream_all(streams: BatchedStreams, settings: list[DecodeSettings]) -> list[tuple[list[str], dict]]:
    """Every conversation streamed from its own thread at once: (pieces, info) of each."""
    results: list[tuple[list[str], dict]] = [([], {}) for _ in CONVERSATIONS]

    def chat(i: int) -> None:
        pieces, info = results[i]
        pieces.extend(streams.stream(CONVERSATIONS[i], settings[i], info))

    threads = [threading.Thread(target=chat, args=(i,)) for i in range(len(CONVERSATIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_concurrent_greedy_chats_are_one_batch_and_answer_as_alone(model):
    limits = [12, 5, 12, 8]  # each chat its own max_tokens
    settings = [DecodeSettings(max_new_tokens=n) for n in limits]
    results = stream_all(BatchedStreams(model, window=2.0, max_batch=4), settings)
    assert model.batches == [4]  # one decode of the four chats
    alone = [model.chat([c], s)[0] for c, s in zip(CONVERSATIONS, settings, strict=True)]
    streamed = ["".join(pieces).strip() for pieces, _ in results]
    assert streamed == [g.text for g in alone]
    assert len(set(streamed)) == 4 and all(streamed)  # four different, non-empty answers, each to its own caller
    assert all(len(pieces) > 1 for pieces, _ in results)  # streamed in pieces, not handed over whole
    assert [info for _, info in results] == [{"new_tokens": g.new_tokens, "hit_max_new_tokens": g.hit_max_new_tokens}
                                             for g in alone]
    assert [info["new_tokens"] for _, info in results] == limits


def test_a_chat_that_samples_is_decoded_alone(model):
    settings = [DecodeSettings(max_new_tokens=6, temperature=1.0, seed=5)] + [DecodeSettings(max_new_tokens=6)] * 3
    results = stream_all(BatchedStreams(model, window=2.0, max_batch=4), settings)
    assert sorted(model.batches) == [1, 3]
    again = "".join(BatchedStreams(model, window=0).stream(CONVERSATIONS[0], settings[0])).strip()
    assert again == "".join(results[0][0]).strip() != ""  # its seed reproduces it


def test_a_caller_that_stops_reading_frees_its_row(model):
    streams = BatchedStreams(model, window=0)
    pieces = streams.stream(CONVERSATIONS[1], DecodeSettings(max_new_tokens=200))
    assert next(pieces)
    pieces.close()  # the tester closed the chat
    assert "".join(streams.stream(CONVERSATIONS[0], DecodeSettings(max_new_tokens=3))).strip()
    assert model.widths[0] < 200  # the first decode ended early (the next chat waited for it to end)


def test_a_failing_decode_reaches_every_caller(model, monkeypatch):
    def broken(self, conversation):
        raise ValueError("no chat template")

    monkeypatch.setattr(LocalChatModel, "prompt_ids", broken)
    with pytest.raises(ValueError, match="no chat template"):
        list(BatchedStreams(model, window=0).stream(CONVERSATIONS[0], DecodeSettings()))


def test_served_concurrent_streams_each_get_their_own_answer(tmp_path, varied_model_dir):
    from openai import OpenAI

    from workbench.feedback.server import FeedbackServer
    from workbench.feedback.store import FeedbackStore

    store = FeedbackStore(tmp_path / "feedback.sqlite")
    server = FeedbackServer(store, {"m": str(varied_model_dir)}).start()
    try:
        client = OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=120)
        answers: dict[int, str] = {}

        def chat(i: int) -> None:
            chunks = client.chat.completions.create(model="m", messages=CONVERSATIONS[i], max_tokens=8, stream=True)
            answers[i] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()

        threads = [threading.Thread(target=chat, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        alone = server.chat.models["m"].chat(CONVERSATIONS, DecodeSettings(max_new_tokens=8, batch_size=1))
    finally:
        server.stop()
    assert [answers.get(i) for i in range(4)] == [g.text for g in alone]
    assert sorted(e["answer"] for e in store.exchanges()) == sorted(g.text for g in alone)


def test_the_decoding_thread_ends_when_idle_and_starts_again(model):
    streams = BatchedStreams(model, window=0, idle=2.0)
    first = "".join(streams.stream(CONVERSATIONS[0], DecodeSettings(max_new_tokens=3)))
    worker = streams._worker
    assert worker is not None
    worker.join(timeout=30)
    assert not worker.is_alive() and streams._worker is None
    assert "".join(streams.stream(CONVERSATIONS[0], DecodeSettings(max_new_tokens=3))) == first
