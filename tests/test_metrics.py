"""Metric plugins: one shared contract test over every registered metric, and known answers."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from workbench.evaluation.result import MetricResult
from workbench.runtime.discovery import get_registry

PROMPTS = [[{"role": "user", "content": "How do I reset my password?"}],
           [{"role": "user", "content": "Where is my order?"}],
           [{"role": "user", "content": "Fix it"}]]
REFS = ["Go to Settings and choose Reset password.", "Your order ships tomorrow.", "Could you tell me what is broken?"]
PREDS = ["Open Settings, then choose Reset password.", "It ships tomorrow, I think.", "Sure, here you go."]


def frame(tiny_model_dir=None, **extra) -> pl.DataFrame:
    data = {"id": ["a", "b", "c"], "prompt": [json.dumps(p) for p in PROMPTS], "reference": REFS, "prediction": PREDS,
            "label": ["account", "shipping", None], "expected_behavior": [None, None, "ask_clarification"],
            "latency_s": [0.5, 0.25, 1.0], "model": [str(tiny_model_dir)] * 3,
            "prediction_a": PREDS, "prediction_b": REFS}
    return pl.DataFrame(data | extra)


@pytest.mark.slow  # loads the tiny model three times and MiniLM
def test_every_registered_metric_follows_the_contract(tiny_model_dir):
    registry = get_registry()
    names = registry.names("metric")
    assert {"accuracy", "f1", "bleu", "chrf", "ter", "rouge_l", "exact_match", "semantic_similarity", "perplexity",
            "answer_length", "latency", "behavior", "judge"} <= set(names)
    options = {"judge": {"judge_model": str(tiny_model_dir)}}
    f = frame(tiny_model_dir)
    for name in names:
        cls = registry.get("metric", name)
        assert cls.description and cls.version and cls.requires, name
        assert set(cls.requires) <= set(f.columns), f"{name} needs columns the evaluation frame lacks"
        result = cls(options.get(name, {})).compute(f)
        assert isinstance(result, MetricResult) and result.name == name
        assert result.skipped or isinstance(result.score, float), name
        if result.per_example is not None:
            assert len(result.per_example) == f.height, name
        json.dumps(result.to_dict())  # JSON-able for results.json


def metric(name, options=None):
    return get_registry().get("metric", name)(options or {})


@pytest.mark.parametrize("name,fn", [("bleu", "corpus_bleu"), ("chrf", "corpus_chrf"), ("ter", "corpus_ter")])
def test_sacrebleu_metrics_match_sacrebleu(name, fn):
    import sacrebleu

    result = metric(name).compute(frame())
    assert result.score == pytest.approx(getattr(sacrebleu, fn)(PREDS, [REFS]).score)
    assert "version:2.6.0" in result.signature
    assert result.higher_is_better is (name != "ter")


def test_label_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    truth = ["a", "b", "a", "c", "b", "a"]
    pred = ["a", "b", "b", "c", "a", "a"]
    f = pl.DataFrame({"label": truth, "predicted_label": pred, "prediction": [""] * 6})
    assert metric("accuracy").compute(f).score == pytest.approx(accuracy_score(truth, pred))
    r = metric("f1").compute(f)
    assert r.score == pytest.approx(f1_score(truth, pred, average="macro"))
    assert r.details["micro"]["f1"] == pytest.approx(f1_score(truth, pred, average="micro"))
    assert r.details["per_class"]["a"]["f1"] == pytest.approx(f1_score(truth, pred, average=None, labels=["a"])[0])
    assert r.details["confusion"]["matrix"] == confusion_matrix(truth, pred, labels=["a", "b", "c"]).tolist()


def test_label_is_parsed_from_generated_text():
    from workbench.plugins.metrics.labels import NO_LABEL, parse_label

    labels = ["billing", "lost_card", "card"]
    assert parse_label("This is about a Lost card, then billing.", labels) == "lost_card"
    assert parse_label("billing issue with the card", labels) == "billing"
    assert parse_label("no idea", labels) == NO_LABEL
    f = pl.DataFrame({"label": ["billing", "card"], "prediction": ["Billing.", "nothing"]})
    assert metric("accuracy").compute(f).per_example == [1.0, 0.0]


def test_rouge_l_and_exact_match_known_answers():
    f = pl.DataFrame({"prediction": ["the cat sat on the mat", "Yes!"], "reference": ["the cat is on the mat", "yes"]})
    r = metric("rouge_l").compute(f)
    assert r.per_example[0] == pytest.approx(5 / 6)  # LCS "the cat on the mat": P = R = 5/6
    assert r.per_example[1] == pytest.approx(1.0)
    assert metric("exact_match").compute(f).per_example == [0.0, 1.0]
    assert metric("exact_match", {"normalise": False}).compute(f).per_example == [0.0, 0.0]


def test_length_and_latency():
    f = frame()
    assert metric("answer_length").compute(f).per_example == [6.0, 5.0, 4.0]
    lat = metric("latency").compute(f)
    assert lat.score == pytest.approx(1.75 / 3) and lat.higher_is_better is False


def test_semantic_similarity_matches_the_encoder():
    from workbench.lm.embedded import sentence_encoder

    r = metric("semantic_similarity").compute(frame())
    enc = sentence_encoder()
    a, b = enc.encode(PREDS), enc.encode(REFS)
    assert r.per_example == pytest.approx([float(x @ y) for x, y in zip(a, b)], abs=1e-5)
    assert r.per_example[0] > r.per_example[2]


def test_perplexity_is_exp_of_reference_loss(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    r = metric("perplexity").compute(frame(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt = tok.apply_chat_template(PROMPTS[0], add_generation_prompt=True, tokenize=True)
    answer = tok(REFS[0] + tok.eos_token, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([prompt + answer])).logits[0]
    logp = torch.log_softmax(logits[len(prompt) - 1:-1], dim=-1)
    expected = -logp[torch.arange(len(answer)), torch.tensor(answer)].mean().item()
    assert r.per_example[0] == pytest.approx(expected, rel=1e-4)
    assert r.score == pytest.approx(math.exp(sum(r.per_example) / 3), rel=1e-6)


def test_behavior_rules_decide_and_explain():
    f = pl.DataFrame({"id": ["1", "2", "3", "4"],
                      "expected_behavior": ["ask_clarification", "correct_premise", "ask_clarification", "sing"],
                      "prediction": ["Which order do you mean?", "Actually, we never charge twice.", "Done.", "la"]})
    r = metric("behavior").compute(f)
    assert r.per_example == [1.0, 1.0, 0.0, None]
    assert "asks a question" in r.details["decisions"][0]["rule"]
    assert r.details["decisions"][3]["passed"] is None
    assert r.details["by_behavior"]["ask_clarification"]["pass_rate"] == 0.5


def test_judge_reports_position_bias(monkeypatch):
    from workbench.lm import generation
    from workbench.lm.generation import Generation

    class AlwaysFirst:
        name = "fake"

        def chat(self, conversations, settings=None, on_batch=None):
            return [Generation("A", 0.0, 1) for _ in conversations]

    monkeypatch.setattr(generation, "chat_model", lambda *a, **k: AlwaysFirst())
    r = metric("judge").compute(frame())
    assert r.per_example == [0.5, 0.5, 0.5]  # A/B picks base, B/A picks other: they cancel out
    assert r.details["position_disagreement"] == 1.0


def test_label_metrics_skip_free_text_answers_that_name_no_label():
    from workbench.plugins.metrics.labels import F1, Accuracy

    frame = pl.DataFrame({"label": ["refund_request", "order_status"],
                          "prediction": ["Thanks for contacting us!", "It ships tomorrow."]})
    for metric in (Accuracy(), F1()):
        result = metric.compute(frame)
        assert result.score is None and "names a label" in result.skipped
