"""Known-answer tests for each cleaner, including the tricky cases."""

from __future__ import annotations

import json

import polars as pl
import pytest

from workbench import schema
from workbench.ledger import restore
from workbench.plugins.cleaners.dedup import ExactDedup, NearDedup
from workbench.plugins.cleaners.pii import RedactPii
from workbench.plugins.cleaners.quality import QualityFilter
from workbench.plugins.cleaners.structure import RepairStructure
from workbench.plugins.cleaners.terminology import Terminology
from workbench.plugins.cleaners.text import StripMarkup, UnicodeNormalize, Whitespace
from workbench.testing import run_component


def table(*convs: list[tuple[str, str]], ids: list[str] | None = None) -> pl.DataFrame:
    ids = ids or [f"r{i}" for i in range(len(convs))]
    return schema.from_rows([{"id": i, "messages": [{"role": r, "content": c} for r, c in conv]} for i, conv in zip(ids, convs)])


def run(cleaner, t: pl.DataFrame):
    """Run as a run would (options validated, rows balanced): workbench.testing checks both."""
    return run_component(type(cleaner), t, **cleaner.options.model_dump())


def contents(t: pl.DataFrame) -> list[str]:
    return [m["content"] for msgs in t["messages"].to_list() for m in msgs]


def test_unicode_repairs_mojibake_before_nfkc_and_records_stages():
    t = table([("user", "I donâ€™t see it\u200b"), ("assistant", "ＡＢＣ “quoted”")], [("user", "plain")])
    r = run(UnicodeNormalize(), t)
    assert contents(r.table) == ["I don't see it", 'ABC "quoted"', "plain"]
    assert r.ledger["row_id"].to_list() == ["r0"]
    assert set(json.loads(r.ledger["detail"][0])["stages"]) == {"mojibake", "invisible", "nfkc", "quotes"}
    assert r.table["origin"].to_list() == ["unicode", None]


def test_whitespace_and_markup():
    t = table([("assistant", "  a   b \n\n\n\n c  <b>bold</b> &amp; **md** [link](http://x)")])
    t = run(Whitespace(), t).table
    assert contents(t) == ["a b\n\nc <b>bold</b> &amp; **md** [link](http://x)"]
    assert contents(run(StripMarkup({"markdown": True}), t).table) == ["a b\n\nc bold & md link"]


@pytest.mark.parametrize("text, expected", [
    ("mail john.doe@example.com now", "mail [EMAIL] now"),
    ("card 4111 1111 1111 1111 ok", "card [CARD] ok"),
    ("card 4111 1111 1111 1112 fails Luhn", "card 4111 1111 1111 1112 fails Luhn"),
    ("call +44 20 7946 0958 or (555) 123-4567", "call [PHONE] or [PHONE]"),
    ("order #555-123-4567 and order number 5551234567", "order #555-123-4567 and order number 5551234567"),
    ("ref 0123 456 789 costs $1,234.56 on 2024-01-15", "ref 0123 456 789 costs $1,234.56 on 2024-01-15"),
    ("IBAN GB82 WEST 1234 5698 7654 32 thanks", "IBAN [IBAN] thanks"),
    ("IBAN GB82 WEST 1234 5698 7654 33 bad check", "IBAN GB82 WEST 1234 5698 7654 33 bad check"),
    ("host 10.0.0.12, see https://a.example.com/x?y=1.", "host [IP], see [URL]."),
    ("key sk-proj-abcdefghijklmnop1234 and password: hunter22", "key [SECRET] and password: [SECRET]"),
    ("version 1.2.3 costs 12.99", "version 1.2.3 costs 12.99"),
])
def test_pii_known_answers(text, expected):
    assert contents(run(RedactPii(), table([("user", text)])).table) == [expected]


def test_pii_counts_by_type_in_ledger_and_stats():
    r = run(RedactPii(), table([("user", "a@b.io and c@d.io, call +1 415 555 0100")], [("user", "nothing")]))
    assert json.loads(r.ledger["detail"][0]) == {"EMAIL": 2, "PHONE": 1}
    assert r.stats["redacted_by_type"]["EMAIL"] == 2
    assert json.loads(r.ledger["row"][0])["messages"][0]["content"].startswith("a@b.io")


def test_placeholders_survive_later_cleaners():
    t = run(RedactPii(), table([("assistant", "Email bug to a@b.io  now")])).table
    for cleaner in (UnicodeNormalize(), Whitespace(), StripMarkup({"markdown": True}),
                    Terminology({"glossary": {"e-mail": ["email"], "issue": ["bug"]}})):
        t = run(cleaner, t).table
    assert contents(t) == ["E-mail issue to [EMAIL] now"]


def test_terminology_whole_words_case_aware_and_roles():
    t = table([("user", "bug"), ("assistant", "Bug: the BUG, bugs and debug; a defect")])
    r = run(Terminology({"glossary": {"issue": ["bug", "defect"]}}), t)
    assert contents(r.table) == ["bug", "Issue: the ISSUE, bugs and debug; a issue"]
    with pytest.raises(ValueError):
        Terminology({"glossary": {"issue": ["Issue"]}})


def test_exact_dedup_on_normalised_text_and_user_turns():
    t = table([("user", "Reset my password?"), ("assistant", "Use the link.")],
              [("user", "reset my  PASSWORD"), ("assistant", "Use the link")],
              [("user", "reset my password"), ("assistant", "Different answer")])
    r = run(ExactDedup(), t)
    assert r.table["id"].to_list() == ["r0", "r2"]
    assert json.loads(r.ledger["detail"][0]) == {"duplicate_of": "r0"}
    assert run(ExactDedup({"on": "user"}), t).table["id"].to_list() == ["r0"]


NAMED = ("Hello, my name is {} and my order for a blue router has not arrived yet although it was "
         "promised for last Monday. Could you please check where it is and when it will come?")


def test_near_dedup_catches_a_changed_name_at_the_right_threshold():
    t = table(*[[("user", NAMED.format(n)), ("assistant", "I am checking the courier status for you now.")]
                for n in ("John", "Mary")],
              [("user", "How can I change the email address on my account settings page?"), ("assistant", "Open settings.")])
    r = run(NearDedup({"threshold": 0.7}), t)
    assert r.table["id"].to_list() == ["r0", "r2"]
    detail = json.loads(r.ledger["detail"][0])
    assert detail["cluster"] == "r0" and detail["similarity"] > 0.7
    assert run(NearDedup({"threshold": 0.95}), t).table.height == 3


def test_near_dedup_default_compares_user_turns_so_sample_data_keeps_over_90_percent(sample_dir):
    from workbench.io import load_table

    t = load_table(sample_dir / "support.jsonl").table
    assert NearDedup().options.on == "user"
    default = run(NearDedup(), t).table.height
    whole = run(NearDedup({"on": "conversation"}), t).table.height
    assert default > 0.9 * t.height, f"the default near-dedup kept only {default} of {t.height} rows"
    assert whole < default, "whole conversations (shared system prompt) look alike far more often"


def test_quality_filters_each_reason():
    good = "Your parcel left the warehouse today and should arrive within two days."
    rows = [[("user", "where is it"), ("assistant", good + " " * (i % 3) + "x" * (i % 5))] for i in range(30)]
    rows += [[("user", "q"), ("assistant", "  ")], [("user", "q"), ("assistant", "k")],
             [("user", "q"), ("assistant", "As an AI language model, I cannot track parcels.")],
             [("user", "q"), ("assistant", "Buy now and save! " * 6)],
             [("user", "q"), ("assistant", " ".join(f"w{i}" for i in range(400)))],
             [("user", "no answer here")]]
    r = run(QualityFilter(), table(*rows))
    assert r.table.height == 30
    assert r.ledger["reason"].to_list() == ["empty answer", "short answer", "refusal", "repeated phrase", "length outlier", "no answer"]


def test_quality_outliers_are_long_turns_by_default_and_say_why():
    rows = [[("user", "where is my order"), ("assistant", "It ships in two days. " * (2 + i % 4))] for i in range(40)]
    rows += [[("user", "and?"), ("assistant", "Tomorrow.")],  # short but a fine answer
             [("user", "long"), ("assistant", "Word " * 300)]]
    r = run(QualityFilter({"max_phrase_repeats": 1000}), table(*rows))
    assert r.table.height == 41 and r.ledger["reason"].to_list() == ["length outlier"]
    detail = json.loads(r.ledger["detail"][0])
    assert detail["role"] == "assistant" and detail["tokens"] == 300 and detail["allowed_tokens"][0] == 0
    assert detail["allowed_tokens"][1] < 300
    # answers of 10-25 words: quartiles 10 and 20; half an IQR below the first quartile is 5 words
    both = run(QualityFilter({"max_phrase_repeats": 1000, "outlier_tails": "both", "outlier_factor": 0.5}), table(*rows))
    assert both.table.height == 40 and sorted(json.loads(d)["tokens"] for d in both.ledger["detail"]) == [1, 300]


def test_structure_repairs_are_each_recorded():
    t = table([("user", "hi"), ("user", "there"), ("system", "be brief"), ("assistant", "hello"), ("user", "bye?")],
              [("user", "q"), ("assistant", "a")])
    r = run(RepairStructure(), t)
    assert r.table["messages"].to_list()[0] == [
        {"role": "system", "content": "be brief", "weight": None},
        {"role": "user", "content": "hi\n\nthere", "weight": None},
        {"role": "assistant", "content": "hello", "weight": None}]
    assert json.loads(r.ledger["detail"][0]) == {"system_moved": True, "turns_merged": 1, "trailing_user_dropped": 1}
    assert r.ledger["row_id"].to_list() == ["r0"]
    kept = run(RepairStructure({"system_first": False, "merge_consecutive": False, "drop_trailing_user": False}), t)
    assert kept.ledger.height == 0 and kept.table.equals(t)


def test_dropped_rows_can_be_restored():
    t = table([("user", "q"), ("assistant", "same answer")], [("user", "q"), ("assistant", "same answer")])
    r = run(ExactDedup(), t)
    back = restore(r.table, r.ledger)
    assert sorted(back["id"].to_list()) == ["r0", "r1"] and back.sort("id")["messages"].equals(t["messages"])
