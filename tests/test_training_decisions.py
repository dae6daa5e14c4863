"""Decision tokens: the answer tokens where answers of different intents part weigh more in the loss."""

from __future__ import annotations

import json

import pytest

from workbench.training.chat import IGNORE, Example
from workbench.training.decisions import decision_contexts, weigh_decisions
from workbench.training.loop import TrainJob, assistant_loss, train
from workbench.training.options import CausalLMOptions
from workbench.training.planning import preflight_figures
from workbench.training.preflight import summary

GREETING = [7, 8, 9]  # a shared greeting, then the intent's answer, then a shared sign-off


def answer(prompt: list[int], body: list[int], label: str | None) -> Example:
    ids = prompt + body
    start = len(prompt)
    return Example(ids, [IGNORE] * start + body, spans=[(start, len(ids))], label=label)


def weights_of(ex: Example) -> list[float]:
    start = ex.spans[0][0]
    return ex.weights[start:]


def test_only_the_tokens_where_intents_part_are_decisions():
    refund = [answer([1, 2], GREETING + [20, 21, 5, 6], "refund"), answer([3, 2], GREETING + [20, 21, 5, 6], "refund")]
    status = [answer([1, 4], GREETING + [30, 31, 5, 6], "order_status")]
    # the same label parting after the greeting (a customer's name) decides nothing
    named = [answer([1, 2], GREETING + [40, 20, 21], "refund"), answer([1, 2], GREETING + [41, 20, 21], "refund")]
    examples = refund + status + named
    decided = weigh_decisions(examples, decision_contexts(examples), 4.0)
    # after the greeting refund answers go on with 20 or a name (40, 41), status answers with 30: one context decides
    assert [weights_of(ex) for ex in refund] == [[1, 1, 1, 4, 1, 1, 1]] * 2
    assert weights_of(status[0]) == [1, 1, 1, 4, 1, 1, 1]
    assert [weights_of(ex) for ex in named] == [[1, 1, 1, 4, 1, 1]] * 2
    assert decided == 5
    assert refund[0].loss_weight == 6 + 4 and refund[0].trained_tokens == 7


def test_without_labels_every_answer_is_its_own_intent_and_with_some_only_labelled_rows_decide():
    one = answer([1], GREETING + [20, 5], None)
    other = answer([1], GREETING + [30, 5], None)
    weigh_decisions([one, other], decision_contexts([one, other]), 3.0)
    assert weights_of(one) == weights_of(other) == [1, 1, 1, 3, 1]

    labelled = [answer([1], GREETING + [20, 5], "a"), answer([1], GREETING + [20, 5], "a")]
    unlabelled = answer([1], GREETING + [30, 5], None)  # parts from them, but rows without a label define nothing
    assert decision_contexts([*labelled, unlabelled]) == set()


def test_weighted_loss_counts_each_trained_token_times_its_weight(tiny_model_dir):
    import torch

    from workbench.lm.models import load_causal_lm
    from workbench.training.batching import collate

    model, tok = load_causal_lm(str(tiny_model_dir), dtype=torch.float32)
    ex = answer([5, 6, 7], [10, 11, 12, 13], None)
    plain = collate([ex], tok.pad_token_id)
    assert "weights" not in plain  # an unweighted batch is still a plain Hugging Face model input
    ex.weights = [1.0] * 3 + [1.0, 3.0, 1.0, 1.0]
    weighted = collate([ex], tok.pad_token_id)
    with torch.no_grad():
        total, count = assistant_loss(model, **plain)
        wtotal, wcount = assistant_loss(model, **weighted)
        hidden = model.get_decoder()(input_ids=plain["input_ids"]).last_hidden_state
        logits = model.get_output_embeddings()(hidden[0, :-1]).float()
        per_token = torch.nn.functional.cross_entropy(logits, plain["input_ids"][0, 1:], reduction="none")
    assert int(count) == 4 and float(wcount) == pytest.approx(6.0)
    assert float(total) == pytest.approx(float(per_token[2:].sum()), rel=1e-5)  # targets 10..13 sit at positions 2..5
    assert float(wtotal) == pytest.approx(float(total + 2 * per_token[3]), rel=1e-5)


def support_rows(n: int, start: int = 0) -> list[dict]:
    intents = [("refund", "Your refund is issued within 5 days."), ("order_status", "Orders leave within 2 days.")]
    rows = []
    for i in range(start, start + n):
        label, body = intents[i % 2]
        rows.append({"id": f"r{i}", "label": label, "messages": [
            {"role": "user", "content": f"Question {i} about {label.replace('_', ' ')}"},
            {"role": "assistant", "content": f"Thanks for contacting us! {body} Anything else?"}]})
    return rows


@pytest.mark.parametrize("weight", [1.0, 4.0])
def test_the_trainer_weighs_decisions_by_default_and_records_how_many(tiny_model_dir, tmp_path, weight):
    opts = CausalLMOptions(model=str(tiny_model_dir), batch_size=4, max_steps=2, warmup_probe_steps=0, rehearsal=0,
                           checkpoint_every=0, decision_weight=weight)
    result = train(TrainJob(opts, support_rows(8), support_rows(2, 100), tmp_path / "out", log=lambda _m: None,
                            save_model=False))
    assert CausalLMOptions().decision_weight == 4.0
    if weight == 1.0:
        assert result.stats["decision_tokens"] == 0
    else:  # "Your" against "Orders" after the greeting, in each of the 8 answers
        assert result.stats["decision_tokens"] >= 8
        assert result.stats["final_val_loss"] is not None
        figures = json.loads((tmp_path / "out" / "preflight.json").read_text())
        assert figures["decision_tokens"] == result.stats["decision_tokens"]
        assert f"{figures['decision_tokens']} of them decision tokens weighted more" in summary(figures)
        assert preflight_figures(figures)["decision tokens"] == str(figures["decision_tokens"])
