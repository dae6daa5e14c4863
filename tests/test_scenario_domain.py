"""Domain extraction and planning: scenarios draw on the user's own rows."""

from __future__ import annotations

import json
from pathlib import Path

from workbench import schema
from workbench.scenarios import EXPECTED_BEHAVIOR, SCENARIO_TYPES
from workbench.scenarios.domain import Domain, extract_entities
from workbench.scenarios.plan import core, plan

SYSTEM = "You are the support assistant of Acme Shop."
ROWS = [
    ("r1", "track_order", "Where is my order #A1234? It was supposed to arrive in Berlin yesterday.",
     "Your order #A1234 is in transit and should arrive within two days."),
    ("r2", "refund", "Can you refund the $49.99 I paid for the Acme Blender?",
     "I've started a refund of $49.99 to your original payment method."),
    ("r3", "change_address", "I want to change the delivery address for order #B5678 to Paris.",
     "You can change the address in My Orders before the order ships."),
    ("r4", "track_order", "How do I check where my Acme Blender is?", "Open My Orders and click Track next to the order."),
    ("r5", "cancel_order", "Please cancel order #C9012, I ordered the wrong Acme Toaster.",
     "Order #C9012 is cancelled; you'll get a confirmation email."),
    ("r6", "refund", "I need a refund for the Acme Toaster, it arrived broken.",
     "Sorry about that! I've started a refund for the Acme Toaster."),
]


def support_table(splits: dict[str, str] | None = None):
    """A small canonical support table (stands in until sample_data lands)."""
    return schema.from_rows([
        {"id": i, "label": label, "split": (splits or {}).get(i),
         "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": u},
                      {"role": "assistant", "content": a}]}
        for i, label, u, a in ROWS])


def read_sample(path: Path):
    """Sample OpenAI chat JSONL read line by line; malformed lines are skipped."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        try:
            rec = json.loads(line)
            messages = [{"role": m["role"], "content": m["content"]} for m in rec["messages"]]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        rows.append({"id": str(rec.get("id") or f"line{n}"), "label": rec.get("label"), "messages": messages})
    return schema.from_rows(rows)


def test_type_names_are_the_documented_contract():
    assert EXPECTED_BEHAVIOR == {
        "edge_case": "acknowledge_and_redirect", "multi_turn_context": "refer_to_context",
        "false_premise": "correct_premise", "persona_tone": "adapt_tone",
        "language_complexity": "answer_correctly", "ambiguity": "ask_clarification",
        "interleaved_intents": "handle_all_intents", "synonymous_expressions": "consistent_answer"}


def test_entities_come_from_the_users_requests():
    ents = extract_entities([r[2] for r in ROWS])
    assert {"#A1234", "#B5678", "#C9012"} <= set(ents["order_id"])
    assert ents["amount"] == ["$49.99"]
    assert ents["product"][0] == "Acme Toaster" or "Acme Blender" in ents["product"]
    assert {"Berlin", "Paris"} <= set(ents["place"])
    assert "I" not in ents["product"] and "Where" not in ents["product"]


def test_domain_skips_scenario_rows_and_finds_system_prompt():
    table = support_table()
    extra = schema.from_rows([{"id": "s1", "scenario": "ambiguity",
                               "messages": [{"role": "user", "content": "It's about my order."}]}])
    domain = Domain.from_table(schema.conform(table).vstack(extra))
    assert [ex.id for ex in domain.examples] == [r[0] for r in ROWS]
    assert domain.system_prompt() == SYSTEM
    assert domain.examples[0].intent == "track order"


def test_core_turns_one_sentence_requests_into_clauses():
    assert core("Can you refund the $49.99?") == "can you refund the $49.99"
    assert core("I want a refund.") == "I want a refund"
    assert core("Where is it? It was due yesterday.") is None
    assert core("Hello, I forgot my password. Thanks!") == "I forgot my password"


def test_log_lines_and_card_numbers_are_not_entities():
    ents = extract_entities(["My card 378282246310005 fails: WARN LoginViewModel NullPointerException at Foo Bar2",
                             "The Alpine Down Jacket for order 44317787 is torn."])
    assert ents["order_id"] == ["44317787"]
    assert ents["product"] == ["Alpine Down Jacket"]


def test_plan_balances_intents_and_respects_existing_splits():
    splits = {"r1": "test", "r2": "test", "r3": "train", "r4": "train", "r5": "train", "r6": "validation"}
    domain = Domain.from_table(support_table(splits))
    slots = plan(domain, list(SCENARIO_TYPES), 2, ["train", "suite"], seed=1)
    train_sources = {s.source.id for s in slots if s.mode == "train"}
    suite_sources = {s.source.id for s in slots if s.mode == "suite"}
    assert train_sources == {"r3", "r4", "r5"}
    assert suite_sources == {"r1", "r2"}
    first_three = [s.source.label for s in slots if s.mode == "train"][:3]
    assert len(set(first_three)) == 3, "the deck interleaves intents"
    assert all(s.partner is None or s.partner.label != s.source.label for s in slots)
