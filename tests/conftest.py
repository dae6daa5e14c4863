"""Shared fixtures: isolated runs folder, tiny model, plugin host reset.

Installed entry-point plugins are not loaded unless a test asks for them with
``@pytest.mark.entry_points``: a plugin a developer happens to have installed
must not change what the built-in tests see.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@pytest.fixture(autouse=True)
def _isolated_runs(request, tmp_path, monkeypatch):
    """Every test writes runs under its own tmp folder and starts a fresh host."""
    from workbench.runtime import discovery as plugins
    from workbench.runtime.discovery import reset_host

    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    if request.node.get_closest_marker("entry_points") is None:
        monkeypatch.setattr(plugins, "_entry_points", lambda: ())
    reset_host()
    yield
    reset_host()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny Llama model with SmolLM2's tokenizer (random weights)."""
    from workbench.lm.tiny import tiny_causal_lm

    return tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="session")
def gqa_model_dir(tmp_path_factory):
    """Four query heads sharing two key/value heads, as SmolLM2 shares three among nine."""
    from workbench.lm.tiny import tiny_causal_lm

    return tiny_causal_lm(tmp_path_factory.mktemp("gqa") / "tiny-gqa", layers=2, hidden=64, heads=4, kv_heads=2, seed=3)


@pytest.fixture(scope="session")
def varied_model_dir(gqa_model_dir, tmp_path_factory):
    """The grouped-query model with its matrices scaled up, so greedy answers differ by prompt and token.

    (At the default initialisation a random tiny model repeats the last prompt token, a newline.)
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("varied") / "tiny-varied"
    model = AutoModelForCausalLM.from_pretrained(gqa_model_dir)
    with torch.no_grad():
        for weight in model.parameters():
            if weight.dim() == 2:
                weight.mul_(6)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(gqa_model_dir).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE
