"""Known answers for every scenario behaviour rule: one passing and one failing answer each.

The prompts are the built-in scenario templates rendered with sample-like
values, so the rules are tested on what the generators emit.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from workbench.scenarios import EXPECTED_BEHAVIOR

SYSTEM = {"role": "system", "content": "You are a support agent for Acme."}
REQUEST = "I was charged twice for order #A1234. Can you refund the extra $49.99?"
ANSWER = "I'm sorry about the double charge. I've refunded the extra $49.99 for order #A1234; it arrives in 3-5 days."


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


#: behaviour -> (prompt turns, reference, passing answer, failing answer)
CASES = {
    "acknowledge_and_redirect": (
        [SYSTEM, user("Can you get the Acme Blender delivered to the Moon?")],
        "That would be quite a trip! Unfortunately I can't deliver to the Moon. If you give me a real address, "
        "I'm happy to check the options for the Acme Blender.",
        "Unfortunately we can't deliver to the Moon, but if you give me an address on Earth I'm happy to help.",
        "Sure! Your Acme Blender will be delivered to the Moon on Tuesday."),
    "refer_to_context": (
        [SYSTEM, user(REQUEST), assistant(ANSWER),
         user("Sorry, I got distracted. What did you say about my question?")],
        f'No problem. You asked: "{REQUEST}" My answer was: {ANSWER}',
        "You asked about order #A1234: I refunded the extra $49.99 and it arrives in 3-5 days.",
        "Hello! How can I help you today?"),
    "correct_premise": (
        [SYSTEM, user("My order #A1234 shipped yesterday, but I haven't placed it yet. Where is it?")],
        "I think there may be a mix-up: an order can't ship before it has been placed.",
        "I think there may be a mix-up: an order can't ship before it has been placed. Could you double-check the number?",
        "Your order shipped yesterday and will arrive tomorrow."),
    "adapt_tone": (
        [SYSTEM, user(f"This is RIDICULOUS. I've asked three times already!!! {REQUEST}")],
        f"I'm really sorry for the frustration, and thank you for your patience. {ANSWER}",
        "I'm really sorry for the frustration. I've refunded the extra $49.99 for order #A1234; it arrives in 3-5 days.",
        "Calm down. I've refunded the extra $49.99 for order #A1234; it arrives in 3-5 days."),
    "answer_correctly": (
        [SYSTEM, user(f"Regarding order #A1234, which I placed a while ago and which, unless I am mistaken, has "
                      f"still not been resolved despite my earlier messages: {REQUEST}")],
        ANSWER,
        "I've refunded the extra $49.99 for order #A1234. It arrives in 3-5 days; sorry about the double charge.",
        "Our store opens at 9am on weekdays and we sell kitchen appliances."),
    "ask_clarification": (
        [SYSTEM, user("Can you find information on Acme Blender?")],
        "Happy to help! What would you like to know about Acme Blender: its price, availability, or an order?",
        "Happy to help! What would you like to know about the Acme Blender: its price or an order you placed?",
        "The Acme Blender is a blender."),
    "handle_all_intents": (
        [SYSTEM, user(f"{REQUEST} Also, unrelated: how do I reset my password?")],
        f"{ANSWER}\n\nAs for your second question: open Settings and choose Reset password.",
        "I've refunded the extra $49.99 for order #A1234. To reset your password, open Settings and choose Reset.",
        "To reset your password, open Settings and choose Reset password."),
}


def behaviour_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame({
        "id": [r["id"] for r in rows], "expected_behavior": [r.get("behavior") for r in rows],
        "prompt": [json.dumps(r.get("prompt", [user("hi")])) for r in rows],
        "reference": [r.get("reference") for r in rows], "prediction": [r["answer"] for r in rows],
        "source_id": [r.get("source_id") for r in rows]})


def decide(rows, **options):
    from workbench.plugins.metrics.behavior import Behavior

    return Behavior({"similarity": "chrf"} | options).compute(behaviour_frame(rows))


def test_every_generated_behaviour_has_a_rule():
    from workbench.plugins.metrics.behavior_rules import RULES

    assert set(EXPECTED_BEHAVIOR.values()) <= set(RULES)


@pytest.mark.parametrize("behavior", sorted(CASES))
def test_rule_passes_the_good_answer_and_fails_the_bad_one(behavior):
    prompt, reference, good, bad = CASES[behavior]
    rows = [{"id": "good", "behavior": behavior, "prompt": prompt, "reference": reference, "answer": good},
            {"id": "bad", "behavior": behavior, "prompt": prompt, "reference": reference, "answer": bad}]
    r = decide(rows)
    passed, failed = r.details["decisions"]
    assert passed["passed"] is True, passed
    assert failed["passed"] is False, failed
    for d in (passed, failed):  # transparent: the rule's name and its evidence per example
        assert d["rule_name"] == behavior and d["rule"].startswith(behavior + ":") and isinstance(d["evidence"], dict)
    assert r.per_example == [1.0, 0.0]
    assert r.details["by_behavior"][behavior] == {"n": 2, "judged": 2, "passed": 1, "pass_rate": 0.5}


def test_consistent_answer_compares_the_answers_of_one_source():
    same = "Open Settings and choose Reset password; you will get an email with a link."
    rows = [
        {"id": "src", "answer": same},  # the original row (evaluated too, no behaviour)
        {"id": "v1", "source_id": "src", "behavior": "consistent_answer", "answer": same},
        {"id": "v2", "source_id": "src", "behavior": "consistent_answer",
         "answer": "Open Settings and choose Reset password: an email with a link will follow."},
        {"id": "v3", "source_id": "src", "behavior": "consistent_answer",
         "answer": "We are open from nine to five on weekdays."},
        {"id": "alone", "source_id": "other", "behavior": "consistent_answer", "answer": same, "reference": same},
        {"id": "none", "source_id": "third", "behavior": "consistent_answer", "answer": same},
        # another scenario type from the same source answers another question: not part of the group
        {"id": "edge", "source_id": "src", "behavior": "acknowledge_and_redirect", "answer": "We can't fly there."},
    ]
    r = decide(rows)
    d = {x["id"]: x for x in r.details["decisions"]}
    assert d["v1"]["passed"] and d["v2"]["passed"] and d["v3"]["passed"] is False
    assert d["v1"]["evidence"]["group_size"] == 4
    assert d["v3"]["evidence"]["similarity"] < d["v3"]["evidence"]["threshold"]
    assert d["alone"]["passed"] is True and "no other answer" in d["alone"]["rule"]  # falls back to the reference
    assert d["none"]["passed"] is None  # neither partners nor a reference: not judged
    assert r.per_example[0] is None


def test_tone_follows_the_persona():
    from workbench.plugins.metrics.behavior_rules import persona_of, tone_check

    assert persona_of("hi!! im 10 and my mom said i can ask you. can you help??")[0] == "child"
    assert persona_of("Refund order 123. Short answer, no fluff.")[0] == "terse"
    assert persona_of("hello, sorry my english is not so good. refund please?")[0] == "non_native"
    assert persona_of("Good afternoon. I would be most grateful if you could assist me")[0] == "formal"
    assert persona_of("Where is my order?")[0] is None
    long = " ".join(["word"] * 80)
    assert tone_check("terse", "Refunded.")[0] and not tone_check("terse", long)[0]
    assert tone_check("child", "Yes! I sent the money back. It comes soon.")[0]
    assert not tone_check("child", "Notwithstanding the aforementioned reimbursement, " + long + ".")[0]
    assert not tone_check(None, "Obviously, read the manual.")[0]


def test_interleaved_intents_must_come_in_order():
    prompt, reference, good, _ = CASES["handle_all_intents"]
    swapped = "To reset your password, open Settings. I've refunded the extra $49.99 for order #A1234."
    r = decide([{"id": "x", "behavior": "handle_all_intents", "prompt": prompt, "answer": swapped}])
    d = r.details["decisions"][0]
    assert d["passed"] is False and "not in order" in d["rule"]
    assert len(d["evidence"]["requests"]) == 2


def test_requests_are_split_on_markers_and_sign_offs_dropped():
    from workbench.plugins.metrics.behavior_rules import split_requests

    assert split_requests("Thanks. Different topic now: Could you check on order NW-31364 for me? "
                          "It was supposed to arrive by 2024-06-05. Thanks, James") == [
        "Could you check on order NW-31364 for me? It was supposed to arrive by 2024-06-05"]
    assert split_requests("Two things. First, refund my order. Second, reset my password.") == [
        "refund my order", "reset my password"]
    assert split_requests("Where is my parcel? And can I change the address?") == [
        "Where is my parcel?", "And can I change the address?"]


def test_multi_turn_without_earlier_turns_is_not_judged():
    r = decide([{"id": "x", "behavior": "refer_to_context", "prompt": [user("What did you say?")], "answer": "Hi"}])
    assert r.details["decisions"][0]["passed"] is None and r.per_example == [None]


def test_option_cue_rules_replace_a_built_in_rule():
    rows = [{"id": "x", "behavior": "ask_clarification", "answer": "Please share the order number."}]
    assert decide(rows).per_example == [0.0]
    r = decide(rows, rules={"ask_clarification": ["order number"]})
    assert r.per_example == [1.0] and r.details["decisions"][0]["rule_name"] == "cues"


def test_semantic_similarity_backend_with_minilm():
    """The default backend (MiniLM): same content passes, other content fails."""
    from workbench.plugins.metrics.behavior import Behavior

    prompt, reference, good, bad = CASES["answer_correctly"]
    rows = [{"id": "good", "behavior": "answer_correctly", "prompt": prompt, "reference": reference, "answer": good},
            {"id": "bad", "behavior": "answer_correctly", "prompt": prompt, "reference": reference, "answer": bad}]
    r = Behavior().compute(behaviour_frame(rows))
    assert r.per_example == [1.0, 0.0]
    assert "similarity:semantic" in r.signature
    good_sim, bad_sim = (d["evidence"]["similarity"] for d in r.details["decisions"])
    assert good_sim > 0.6 > bad_sim
