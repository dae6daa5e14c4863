"""`workbench evaluate --answers`: saved answers are scored exactly like the same answers generated."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.lm.tiny import tiny_causal_lm
from workbench.runtime import store

#: figures that need the model itself, not its answers: saved answers cannot have them
MODEL_ONLY = {"latency", "perplexity"}


def _evaluate(data: Path, name: str, *extra: str) -> dict:
    code = main(["evaluate", str(data), "--name", name, "--no-forgetting", "--max-new-tokens", "12",
                 "--resamples", "200", "--seed", "3", *extra])
    assert code == 0
    return store.read_json(store.runs_root() / name / "steps" / "02-evaluate-evaluate" / "results.json")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    return tiny_causal_lm(root / "base", seed=0), tiny_causal_lm(root / "tuned", seed=1)


def test_saved_answers_score_like_generated_ones(models, sample_dir, tmp_path):
    base, tuned = models
    rows = [json.loads(line) for line in (sample_dir / "heldout.jsonl").read_text().splitlines()[:8]]
    data = tmp_path / "heldout.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    generated = _evaluate(data, "generated", "--model", str(base), "--model", str(tuned))

    examples = pl.read_parquet(store.runs_root() / "generated" / "steps" / "02-evaluate-evaluate" / "examples.parquet")
    tuned_name = next(n for n in generated["models"] if n != "base")
    answers = examples.filter(pl.col("model_name") == tuned_name).select("id", pl.col("prediction").alias("answer"))
    saved_file = tmp_path / "tuned-answers.jsonl"
    saved_file.write_text("".join(json.dumps(r) + "\n" for r in answers.to_dicts()))
    by_id = dict(zip(answers["id"], answers["answer"]))
    (tmp_path / "with-column.jsonl").write_text("".join(json.dumps(r | {"my_answer": by_id[r["id"]]}) + "\n" for r in rows))

    from_file = _evaluate(data, "from-file", "--model", str(base), "--answers", f"{tuned_name}=" + str(saved_file))
    from_column = _evaluate(tmp_path / "with-column.jsonl", "from-column", "--model", str(base),
                            "--answers", f"{tuned_name}=column:my_answer")
    metrics = set(generated["scores"][tuned_name]) - MODEL_ONLY
    assert {"chrf", "bleu", "rouge_l", "exact_match", "semantic_similarity", "behavior"} <= metrics
    for saved in (from_file, from_column):
        assert saved["generation"][tuned_name]["saved"] == 8
        for metric in metrics:
            assert saved["scores"][tuned_name][metric] == generated["scores"][tuned_name][metric], metric
            assert saved["scores"]["base"][metric] == generated["scores"]["base"][metric], metric
            assert saved["comparisons"][tuned_name][metric] == generated["comparisons"][tuned_name][metric], metric
        assert saved["scores"][tuned_name]["perplexity"]["skipped"]


def test_answers_file_problems_name_file_and_line(tmp_path, sample_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "ho-001", "answer": "fine"}\n{"id": "ho-002"}\n')
    with pytest.raises(WorkbenchError, match=r"bad.jsonl:2: each line needs"):
        from workbench.evaluation.saved_answers import answer_files

        answer_files([f"tuned={bad}"], sample_dir / "heldout.jsonl", tmp_path / "out")
    short = tmp_path / "short.jsonl"
    short.write_text('{"id": "ho-001", "answer": "fine"}\n')
    data = tmp_path / "two.jsonl"
    data.write_text("".join(l + "\n" for l in (sample_dir / "heldout.jsonl").read_text().splitlines()[:2]))
    assert main(["evaluate", str(data), "--answers", f"only={short}", "--no-forgetting", "--metrics", "chrf"]) == 1
    ledger_like = store.read_json(store.runs_root() / "eval-two" / "run.json")
    assert "have no answer for 1 evaluated rows" in ledger_like["error"]


def test_metric_options_json_is_checked(tmp_path, sample_dir, capsys):
    data = sample_dir / "heldout.jsonl"
    assert main(["evaluate", str(data), "--model", "smollm2", "--metric-options", "{not json"]) == 1
    assert "--metric-options is not JSON" in capsys.readouterr().err
    assert main(["evaluate", str(data), "--model", "smollm2", "--metrics", "exact_match",
                 "--metric-options", '{"exact_match": {"normalize": false}}', "--max-examples", "1"]) == 1
    err = capsys.readouterr().err
    assert "option 'normalize': unknown option" in err and "plugins --options --json" in err
