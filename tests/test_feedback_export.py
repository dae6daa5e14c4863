"""Feedback becomes data: supervised rows from corrections, preference pairs with their sources, in a run."""

from __future__ import annotations

import json

import pytest

from workbench import schema

PROMPT = [{"role": "user", "content": "Where is my order?"}]
OTHER = [{"role": "user", "content": "Can I get a refund?"}]


@pytest.fixture
def store(tmp_path):
    """Two models' answers to two prompts, rated, corrected and compared by two testers."""
    from workbench.feedback.store import FeedbackStore

    s = FeedbackStore(tmp_path / "feedback.sqlite")
    answers = {"a1": ("a", PROMPT, "It ships soon."), "b1": ("b", PROMPT, "Order 12 ships Monday; tracking follows."),
               "a2": ("a", OTHER, "No."), "b2": ("b", OTHER, "Yes, within 30 days.")}
    for ex_id, (model, prompt, answer) in answers.items():
        s.log_exchange(exchange_id=ex_id, tester="ana", model=model, messages=prompt, answer=answer, latency=0.1,
                       settings={})
    s.add_feedback("b1", "ana", "preference", other_id="a1")
    s.add_feedback("b1", "ben", "preference", other_id="a1")          # the same pair again: merged
    s.add_feedback("a2", "ben", "correction", text="Yes: refunds are accepted within 30 days.")
    s.add_feedback("a2", "ana", "rating", rating=0, scale="thumbs")
    s.add_feedback("b2", "ana", "rating", rating=4, scale="1-5")
    s.add_feedback("b2", "ben", "comment", text="friendly")
    return s


def test_supervised_rows_come_from_corrections_with_lineage(store):
    from workbench.feedback.export import supervised_rows

    rows = supervised_rows(store).to_dicts()
    assert len(rows) == 1
    row = rows[0]
    assert row["origin"] == "feedback" and row["source_id"] == "a2"
    assert [m["content"] for m in row["messages"]] == ["Can I get a refund?", "Yes: refunds are accepted within 30 days."]
    assert schema.meta_of(row)["exchange_ids"] == ["a2"] and schema.meta_of(row)["tester"] == "ben"


def test_preference_pairs_from_choices_corrections_and_ratings(store):
    from workbench.feedback.export import pair_fields, preference_pairs

    rows = preference_pairs(store).to_dicts()
    got = {(r["messages"][-1]["content"], schema.meta_of(r)["rejected"]): schema.meta_of(r) for r in rows}
    assert set(got) == {("Order 12 ships Monday; tracking follows.", "It ships soon."),  # A/B choice
                        ("Yes: refunds are accepted within 30 days.", "No."),           # correction over original
                        ("Yes, within 30 days.", "No.")}                                # 4/5 over a thumbs down
    ab = got[("Order 12 ships Monday; tracking follows.", "It ships soon.")]
    assert ab["pair_from"] == ["preference"] and ab["exchange_ids"] == ["b1", "a1"] and len(ab["feedback_ids"]) == 2
    assert got[("Yes, within 30 days.", "No.")]["pair_from"] == ["rating"]
    assert all(r["origin"] == "feedback" for r in rows)
    prompt, chosen, rejected = pair_fields(rows[0])
    assert prompt == PROMPT and chosen.startswith("Order 12") and rejected == "It ships soon."


def test_bad_feedback_is_refused_with_reasons(store):
    from workbench.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="same prompt"):
        store.add_feedback("a1", "ana", "preference", other_id="b2")
    with pytest.raises(WorkbenchError, match="scale"):
        store.add_feedback("a1", "ana", "rating", rating=6, scale="1-5")
    with pytest.raises(WorkbenchError, match="no exchange"):
        store.add_feedback("nope", "ana", "comment", text="x")


def test_feedback_load_step_goes_through_cleaners_and_split(store, tmp_path):
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import parse_runfile

    store.log_exchange(exchange_id="c1", tester="ana", model="a", messages=PROMPT, answer="Mail me at x@example.com",
                       latency=0.1, settings={})  # logged unredacted (redaction off): the pii cleaner still catches it
    store.add_feedback("c1", "ana", "correction", text="Write to help@example.com for order news.")
    run = parse_runfile({"run": {"name": "fb"}, "steps": [
        {"kind": "load", "component": "feedback", "options": {"db": str(store.path)}},
        {"kind": "clean", "component": "pii"},
        {"kind": "split", "options": {"train": 0.5, "validation": 0.5, "test": 0.0}},
    ]}, base_dir=tmp_path)
    out = execute(run)
    rows = out.table.to_dicts()
    assert len(rows) == 2 and {r["source_id"] for r in rows} == {"a2", "c1"}
    assert any("[EMAIL]" in r["messages"][-1]["content"] for r in rows)
    assert {r["split"] for r in rows} <= {"train", "validation"} and all(r["split"] for r in rows)
    pairs = execute(parse_runfile({"run": {"name": "fb-pairs"}, "steps": [
        {"kind": "load", "component": "feedback", "options": {"db": str(store.path), "rows": "preferences"}}]},
        base_dir=tmp_path)).table
    assert pairs.height == 4 and all("rejected" in schema.meta_of(r) for r in pairs.to_dicts())


def test_cli_export_writes_both_files(store, tmp_path):
    from workbench.cli import main
    from workbench.io import load_table

    assert main(["feedback", "export", "--db", str(store.path), "--out", str(tmp_path / "out")]) == 0
    sft = load_table(tmp_path / "out" / "feedback-sft.jsonl").table
    pairs = [json.loads(line) for line in (tmp_path / "out" / "feedback-preferences.jsonl").read_text().splitlines()]
    assert sft.height == 1 and sft["origin"].to_list() == ["feedback"]
    assert len(pairs) == 3 and all(p["meta"]["rejected"] for p in pairs)


def test_testers_agreement_on_ratings_and_choices(store, capsys):
    from workbench.cli import main
    from workbench.feedback.agreement import tester_agreement

    store.add_feedback("a2", "ben", "rating", rating=2, scale="1-5")  # ana gave a thumbs down (= 1)
    store.add_feedback("b2", "ben", "rating", rating=5, scale="1-5")  # ana gave 4
    figures = tester_agreement(store)
    # interval alpha by hand: units [1, 2] and [4, 5]; D_o = (1 + 1) / 4 ... over n = 4 values
    values = [1, 2, 4, 5]
    d_o = (2 * 1 + 2 * 1) / 4
    d_e = sum((a - b) ** 2 for a in values for b in values) / (4 * 3)
    assert figures["ratings"]["alpha"] == pytest.approx(1 - d_o / d_e)
    assert figures["ratings"]["examples"] == 2 and figures["ratings"]["testers"] == ["ana", "ben"]
    assert figures["preferences"]["examples"] == 1 and figures["preferences"]["alpha"] is None  # one value only
    assert main(["feedback", "agreement", "--db", str(store.path), "--json"]) == 0
    assert '"examples": 2' in capsys.readouterr().out
