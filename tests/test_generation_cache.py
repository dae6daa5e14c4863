"""The generation cache shared by the runs of a runs folder: keys, fingerprints, concurrent appends, older caches."""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import dataclass, field

import pytest

from workbench.evaluation import cache as cache_module
from workbench.evaluation.cache import (
    GenerationCache,
    _legacy_fingerprint,
    cache_dirs,
    generate_cached,
    generation_key,
    model_fingerprint,
)
from workbench.lm.generation import DecodeSettings, Generation

PROMPTS = [[{"role": "user", "content": f"question {i}"}] for i in range(5)]


@dataclass
class CountingModel:
    """A chat model that answers by echoing and counts the prompts it was asked."""

    name: str
    asked: list = field(default_factory=list)

    def chat(self, conversations, settings, on_batch=None):
        self.asked += conversations
        return [Generation(f"{self.name} says {c[-1]['content']}", 0.1, settings.max_new_tokens if i % 2 else 2,
                           hit_max_new_tokens=bool(i % 2)) for i, c in enumerate(conversations)]


def test_a_second_cache_on_the_folder_generates_nothing_and_keeps_truncation(tmp_path):
    settings = DecodeSettings(max_new_tokens=8)
    first = CountingModel("base")
    gens, fresh = generate_cached(first, PROMPTS, settings, GenerationCache(tmp_path))
    assert fresh == 5 and [g.hit_max_new_tokens for g in gens] == [False, True, False, True, False]
    second = CountingModel("base")
    again, fresh = generate_cached(second, PROMPTS, settings.model_copy(update={"batch_size": 2}), GenerationCache(tmp_path))
    assert fresh == 0 and second.asked == [] and [g.text for g in again] == [g.text for g in gens]
    assert [g.hit_max_new_tokens for g in again] == [False, True, False, True, False]
    longer = CountingModel("base")  # another token budget is another decoding: generated afresh
    assert generate_cached(longer, PROMPTS[:2], DecodeSettings(max_new_tokens=9), GenerationCache(tmp_path))[1] == 2


def test_a_cache_sees_what_another_process_appended_since_it_was_opened(tmp_path):
    settings = DecodeSettings()
    early, late = GenerationCache(tmp_path), GenerationCache(tmp_path)
    generate_cached(CountingModel("m"), PROMPTS[:3], settings, late)
    model = CountingModel("m")
    _, fresh = generate_cached(model, PROMPTS, settings, early)
    assert fresh == 2 and model.asked == PROMPTS[3:]


def _append(folder, worker: int) -> None:
    cache = GenerationCache(folder)
    for i in range(40):
        cache.put({f"w{worker}-{i}": Generation("x" * (i * 50), 0.0, i, False)}, "m")


def test_concurrent_appenders_never_interleave_lines(tmp_path):
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_append, args=(tmp_path, w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert all(w.exitcode == 0 for w in workers)
    lines = (tmp_path / "generations.jsonl").read_text().splitlines()
    assert len(lines) == 160 and all(json.loads(line)["model"] == "m" for line in lines)
    assert len(GenerationCache(tmp_path)) == 160


def test_a_torn_last_line_is_skipped_and_the_next_append_starts_a_new_line(tmp_path):
    cache = GenerationCache(tmp_path)
    cache.put({"a": Generation("first", 0.0, 1, False)}, "m")
    with open(tmp_path / "generations.jsonl", "a") as fh:
        fh.write('{"key": "b", "model": "m", "te')  # a process died mid-write
    reopened = GenerationCache(tmp_path)
    assert len(reopened) == 1 and reopened.get("a").text == "first"
    reopened.put({"c": Generation("third", 0.0, 1, False)}, "m")
    latest = GenerationCache(tmp_path)
    assert latest.get("c").text == "third" and latest.get("b") is None and len(latest) == 2


def model_folder(path, weights: bytes):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text('{"model_type": "llama"}')
    (path / "model.safetensors").write_bytes(weights)
    return path


def test_the_fingerprint_follows_the_content_of_a_retrained_model_at_the_same_path(tmp_path):
    folder = model_folder(tmp_path / "tuned", b"A" * 1000)
    before, old_before = model_fingerprint(str(folder)), _legacy_fingerprint(str(folder))
    stat = (folder / "model.safetensors").stat()
    (folder / "model.safetensors").write_bytes(b"B" * 1000)  # same size, same time
    os.utime(folder / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _legacy_fingerprint(str(folder)) == old_before  # the per-run cache's fingerprint was fooled
    assert model_fingerprint(str(folder)) != before
    (folder / "tokenizer_config.json").write_text('{"chat_template": "other"}')  # another template: other prompts
    assert model_fingerprint(str(folder)) != before
    assert model_fingerprint("openai:gpt-4o-mini") == "openai:gpt-4o-mini"


def test_large_weights_are_fingerprinted_by_size_time_and_edges(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "HASHED_BYTES", 100)
    monkeypatch.setattr(cache_module, "EDGE_BYTES", 10)
    folder = model_folder(tmp_path / "big", b"A" * 1000)
    before = model_fingerprint(str(folder))
    os.utime(folder / "model.safetensors", ns=(0, 123_456_789))  # rewritten within the same second
    assert model_fingerprint(str(folder)) != before
    touched = model_fingerprint(str(folder))
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1:] = b"Z"
    (folder / "model.safetensors").write_bytes(bytes(data))
    os.utime(folder / "model.safetensors", ns=(0, 123_456_789))
    assert model_fingerprint(str(folder)) != touched  # the last bytes changed


def test_an_adapter_fingerprint_follows_its_base_model(tmp_path):
    base = model_folder(tmp_path / "base", b"A" * 100)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base)}))
    (adapter / "adapter_model.safetensors").write_bytes(b"L" * 100)
    before = model_fingerprint(str(adapter))
    (base / "model.safetensors").write_bytes(b"C" * 100)
    assert model_fingerprint(str(adapter)) != before


def test_a_run_cache_of_before_is_read_and_copied_into_the_shared_cache(tmp_path):
    run_dir = tmp_path / "runs" / "old-run"
    shared, legacy = cache_dirs(run_dir, run_dir / "steps" / "02-evaluate")
    assert shared == tmp_path / "runs" / ".cache" / "generations" and legacy == [run_dir / "cache" / "generations"]
    settings = DecodeSettings(max_new_tokens=4)
    legacy[0].mkdir(parents=True)
    with open(legacy[0] / "generations.jsonl", "w") as fh:  # written as the per-run cache did: no truncation flag
        for i, prompt in enumerate(PROMPTS):
            key = generation_key("smollm2", _legacy_fingerprint("smollm2"), prompt, settings)
            fh.write(json.dumps({"key": key, "model": "smollm2", "text": f"old {i}", "latency_s": 0.2,
                                 "new_tokens": 4 if i == 0 else 1}) + "\n")
    model = CountingModel("smollm2")
    gens, fresh = generate_cached(model, PROMPTS, settings, GenerationCache(shared, legacy))
    assert fresh == 0 and model.asked == [] and gens[1].text == "old 1"
    assert [g.hit_max_new_tokens for g in gens] == [True, False, False, False, False]  # derived from the budget
    gens, fresh = generate_cached(model, PROMPTS, settings, GenerationCache(shared))  # now in the shared cache
    assert fresh == 0 and gens[0].text == "old 0"


def test_outside_a_run_the_cache_lives_in_the_step_folder(tmp_path):
    assert cache_dirs(None, tmp_path) == (tmp_path / "cache" / "generations", [])


@pytest.mark.parametrize("changed", ["prompt", "decoding", "model"])
def test_the_key_changes_with_what_changes_the_answer(changed):
    settings, prompt = DecodeSettings(), PROMPTS[0]
    key = generation_key("m", "fp", prompt, settings)
    other = {"prompt": lambda: generation_key("m", "fp", PROMPTS[1], settings),
             "decoding": lambda: generation_key("m", "fp", prompt, settings.model_copy(update={"temperature": 0.5})),
             "model": lambda: generation_key("m", "fp2", prompt, settings)}[changed]()
    assert other != key
    assert generation_key("m", "fp", prompt, settings.model_copy(update={"batch_size": 3, "max_batch_tokens": 99})) == key


def test_a_second_run_takes_the_base_answers_from_the_shared_cache_and_a_retrained_model_regenerates(tmp_path,
                                                                                                    tiny_model_dir):
    import shutil

    from workbench.lm.tiny import tiny_causal_lm
    from workbench.runtime import store
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import parse_runfile

    data = tmp_path / "heldout.jsonl"
    data.write_text("".join(json.dumps({"id": f"r{i}", "messages": [
        {"role": "user", "content": f"How do I reset password {i}?"},
        {"role": "assistant", "content": f"Open Settings, step {i}."}]}) + "\n" for i in range(4)))
    tuned = shutil.copytree(tiny_causal_lm(tmp_path / "first", seed=1), tmp_path / "tuned")

    def run(name):
        runfile = parse_runfile({"run": {"name": name}, "steps": [
            {"kind": "load", "options": {"path": str(data)}},
            {"kind": "evaluate", "options": {"base_model": str(tiny_model_dir), "tuned_model": str(tuned),
                                             "splits": ["*"], "decode": {"max_new_tokens": 3}, "metrics": ["chrf"],
                                             "bootstrap_resamples": 10, "ar_trials": 10}}]}, base_dir=tmp_path)
        return store.read_json(execute(runfile, runs_dir=tmp_path / "runs").steps[-1].folder / "results.json")

    first = run("first-run")
    assert first["generation"]["base"] == {"generated": 4, "cached": 0, "hit_max_new_tokens": 4}
    n_probes = first["forgetting"]["n_probes"]
    assert first["forgetting"]["generation"]["base"]["generated"] == n_probes
    shutil.copytree(tiny_causal_lm(tmp_path / "second", seed=2), tuned, dirs_exist_ok=True)  # retrained in place
    second = run("second-run")
    assert second["generation"]["base"] == {"generated": 0, "cached": 4, "hit_max_new_tokens": 4}
    assert second["generation"]["tuned"]["generated"] == 4
    assert second["forgetting"]["generation"]["base"] == {"generated": 0, "cached": n_probes,
                                                          "hit_max_new_tokens": n_probes}
    assert second["forgetting"]["generation"]["tuned"]["generated"] == n_probes
    assert (tmp_path / "runs" / ".cache" / "generations" / "generations.jsonl").exists()
    assert not (tmp_path / "runs" / "first-run" / "cache").exists()
