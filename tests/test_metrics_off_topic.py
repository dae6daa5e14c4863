"""Off-topic answers: intents from labelled or clustered training answers; the harness calls ``fit``."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from workbench.plugins.metrics.off_topic import NO_TRAIN_ROWS, OffTopic, greedy_clusters

#: one axis per topic word: a text's vector is the unit sum of the axes of the words it contains
AXES = ["password", "card", "refund", "limit"]


class KeywordEncoder:
    """A tiny deterministic encoder: cosine = overlap of topic words."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), len(AXES) + 1))
        for i, text in enumerate(texts):
            for j, word in enumerate(AXES):
                out[i, j] = float(word in text.lower())
            out[i, -1] = 0.1  # texts without a topic word still have a direction
        return out / np.linalg.norm(out, axis=1, keepdims=True)


TRAIN = pl.DataFrame({
    "reference": ["Reset your password under Settings.", "Use Forgot password on the sign-in page.",
                  "Freeze your card in the app.", "Your refund arrives in 5 days.", "The refund goes to your card."],
    "label": ["password", "password", "card", "refund", "refund"],
})


def frame(references, answers, labels=None):
    data = {"reference": references, "prediction": answers}
    if labels is not None:
        data["label"] = labels
    return pl.DataFrame(data)


def fitted(train=TRAIN, **options):
    metric = OffTopic(options, encoder=KeywordEncoder())
    metric.fit(train)
    return metric


def test_labelled_training_rows_decide_the_intents():
    metric = fitted()
    result = metric.compute(frame(["Reset your password in Settings.", "Reset your password in Settings.", "Refund info"],
                                  ["Open Settings and change the password.", "We will refund you soon.", ""],
                                  ["password", "password", "refund"]))
    assert result.per_example == [0.0, 1.0, 1.0]  # on topic; the refund policy for a password question; empty
    assert result.score == pytest.approx(2 / 3) and result.higher_is_better is False
    d = result.details
    assert d["off_topic"] == 2 and d["intent_source"] == "label" and d["train_rows"] == 5
    assert d["reference_intents"] == ["password", "password", "refund"]
    assert d["answer_intents"] == ["password", "refund", None]
    assert d["similarity"][0] == pytest.approx(1.0) and d["similarity"][2] is None
    assert OffTopic.paired_test == "mcnemar"
    json.dumps(result.to_dict())


def test_reference_without_label_takes_its_nearest_training_answer():
    result = fitted().compute(frame(["Your card is frozen."], ["Freeze the card in the app."], [None]))
    assert result.details["reference_intents"] == ["card"] and result.per_example == [0.0]


def test_unlabelled_training_rows_are_clustered():
    metric = fitted(TRAIN.drop("label"), cluster_threshold=0.9)
    result = metric.compute(frame(["Reset the password.", "Reset the password."],
                                  ["Use Forgot password.", "Your refund comes back."]))
    d = result.details
    assert d["intent_source"] == "clusters"
    assert result.per_example == [0.0, 1.0]
    assert d["reference_intents"][0] == d["answer_intents"][0] != d["answer_intents"][1]
    assert d["answer_intents"][0].startswith("cluster 1: Reset your password")


def test_greedy_clusters_join_near_identical_vectors():
    v = np.array([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0], [0.1, 0.995]])
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert greedy_clusters(v, 0.9) == [0, 0, 1, 1]
    assert greedy_clusters(v, 0.9999) == [0, 1, 2, 3]


def test_without_training_rows_the_metric_is_skipped_with_the_reason():
    metric = OffTopic(encoder=KeywordEncoder())
    result = metric.compute(frame(["a"], ["b"]))
    assert result.skipped == NO_TRAIN_ROWS and result.higher_is_better is False
    metric.fit(pl.DataFrame({"reference": [None, ""], "label": [None, None]}, schema={"reference": pl.Utf8,
                                                                                    "label": pl.Utf8}))
    assert metric.compute(frame(["a"], ["b"])).skipped == NO_TRAIN_ROWS


def test_training_examples_leave_out_the_evaluated_rows():
    from workbench.plugins.evaluation.evaluate import training_examples

    def row(i, split, label):
        return {"id": i, "split": split, "label": label,
                "messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": f"a {i}"}]}

    table = pl.DataFrame([row("t1", "train", "x"), row("t2", "train", "y"), row("e1", "test", "x")])
    evaluated = pl.DataFrame({"id": ["e1"]})
    train = training_examples(table, evaluated)
    assert train["id"].to_list() == ["t1", "t2"] and train["reference"].to_list() == ["a t1", "a t2"]
    assert train["label"].to_list() == ["x", "y"]
    # `workbench evaluate` evaluates every row of its file: nothing is left to fit on
    assert training_examples(table, table.select("id")).height == 0
    assert training_examples(table.drop("split"), evaluated).height == 0


def test_the_harness_fits_metrics_before_scoring(tiny_model_dir, tmp_path):
    from workbench.evaluation.harness import EvalConfig, evaluate
    from workbench.lm.generation import DecodeSettings

    examples = pl.DataFrame({
        "id": ["e1", "e2"], "prompt": [json.dumps([{"role": "user", "content": "My password?"}])] * 2,
        "reference": ["Reset your password.", "Your refund comes."], "label": ["password", "refund"],
        "expected_behavior": [None, None], "scenario": [None, None], "augmented": [False, False],
        "source_id": ["e1", "e2"]})
    encoder = KeywordEncoder()
    metric = OffTopic(encoder=encoder)
    config = EvalConfig({"base": str(tiny_model_dir)}, [metric], DecodeSettings(max_new_tokens=3),
                        resamples=10, trials=10, forgetting=False, train=TRAIN)
    results, _ = evaluate(examples, config, tmp_path / "cache")
    scored = results["scores"]["base"]["off_topic"]
    assert scored["skipped"] is None and scored["details"]["train_rows"] == 5
    assert scored["details"]["reference_intents"] == ["password", "refund"]
    # without training rows the same evaluation skips it and says why
    config.train, config.metrics = None, [OffTopic(encoder=encoder)]
    results, _ = evaluate(examples, config, tmp_path / "cache")
    assert results["scores"]["base"]["off_topic"]["skipped"] == NO_TRAIN_ROWS


@pytest.mark.slow  # loads MiniLM
def test_real_minilm_tells_a_password_answer_from_a_refund_answer():
    train = pl.DataFrame({
        "reference": ["To reset your password, use the Forgot password link on the sign-in page.",
                      "Please use Forgot password on the login screen to get a reset email.",
                      "Refunds are issued to your original payment method within 5-7 business days.",
                      "Your refund will reach your card within 5-7 business days of us receiving the return."],
        "label": [None] * 4}, schema={"reference": pl.Utf8, "label": pl.Utf8})
    metric = OffTopic({"cluster_threshold": 0.6})
    metric.fit(train)
    result = metric.compute(frame(
        ["Use the Forgot password link to reset your password."] * 2,
        ["Click Forgot password on the sign-in page and follow the email.",
         "We refund the money to your original payment method in 5-7 business days."]))
    assert result.per_example == [0.0, 1.0]
    assert result.details["similarity"][0] > 0.5


def _support_rows(path):
    """Train and test rows of a small support domain, with labels."""
    answers = {"password": "Use Forgot password on the sign-in page; the link is valid for 24 hours.",
               "refund": "Your refund reaches your card within 5-7 business days."}
    rows = [{"id": f"{split}-{intent}-{i}", "split": split, "label": intent,
             "messages": [{"role": "user", "content": f"{intent} question {i} about order NW-1000{i}"},
                          {"role": "assistant", "content": answers[intent]}]}
            for split in ("train", "test") for intent in answers for i in range(2)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow  # generates with two tiny models and loads MiniLM
def test_evaluate_step_reports_facts_and_off_topic(tmp_path, tiny_model_dir):
    from workbench.lm.tiny import tiny_causal_lm
    from workbench.runtime import store
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import parse_runfile

    tuned = tiny_causal_lm(tmp_path / "tuned", seed=1)
    evaluate = {"base_model": str(tiny_model_dir), "tuned_model": str(tuned), "decode": {"max_new_tokens": 4},
                "metrics": ["facts", "off_topic"], "bootstrap_resamples": 20, "forgetting_probe": False}
    outcome = execute(parse_runfile({"run": {"name": "correctness"}, "steps": [
        {"kind": "load", "options": {"path": str(_support_rows(tmp_path / "data.jsonl"))}},
        {"kind": "evaluate", "options": evaluate}]}, base_dir=tmp_path))
    results = store.read_json(outcome.steps[1].folder / "results.json")
    assert results["n_examples"] == 4  # the test rows; the train rows only teach off_topic the intents
    for model in ("base", "tuned"):
        facts = results["scores"][model]["facts"]
        assert facts["details"]["applicable"] == 4 and len(facts["details"]["verdicts"]) == 4
        off = results["scores"][model]["off_topic"]
        assert off["details"]["train_rows"] == 4 and off["details"]["reference_intents"] == [
            "password", "password", "refund", "refund"]
    for name in ("facts", "off_topic"):
        comparison = results["comparisons"]["tuned"][name]
        assert comparison["method"].startswith("McNemar") and 0.0 <= comparison["p_value"] <= 1.0


@pytest.mark.slow  # generates with a tiny model
def test_workbench_evaluate_on_a_data_file_skips_off_topic_with_the_reason(tmp_path, tiny_model_dir):
    from workbench.cli import build_parser
    from workbench.commands.evaluate import runfile_data
    from workbench.runtime import store
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import parse_runfile

    args = build_parser().parse_args(["evaluate", str(_support_rows(tmp_path / "data.jsonl")), "--model",
                                      str(tiny_model_dir), "--max-new-tokens", "4", "--resamples", "20",
                                      "--no-forgetting", "--metrics", "facts,off_topic"])
    outcome = execute(parse_runfile(runfile_data(args), base_dir=tmp_path))
    results = store.read_json(outcome.steps[1].folder / "results.json")
    assert results["n_examples"] == 8
    assert results["scores"]["base"]["off_topic"]["skipped"] == NO_TRAIN_ROWS
    assert results["scores"]["base"]["facts"]["skipped"] is None
