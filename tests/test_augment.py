"""Augmenters: protected tokens, POS consistency, roles, lineage, filters, determinism, split safety."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from workbench import schema
from workbench.context import scratch_context
from workbench.ledger import balance_problem
from workbench.plugins.augmenters import base
from workbench.plugins.augmenters.eda import Eda
from workbench.plugins.augmenters.protect import protected_altered, tokenize
from workbench.plugins.augmenters.structure import Structure, restructure
from workbench.plugins.augmenters.typos import TypoOptions, Typos, add_typos
from workbench.plugins.steps import Split

PROTECTED_TEXT = ("I need to change the order NW-48213 I placed, so please email [EMAIL] or open "
                  "https://northwind.example/help?id=42 before 5 pm. Thanks, Ethan")
KEPT = ["NW-48213", "[EMAIL]", "https://northwind.example/help?id=42", "5", "Ethan", " I "]


def conversation(i: int, user: str, split: str | None = "train") -> dict:
    return {"id": f"r{i}", "split": split, "label": "orders",
            "messages": [{"role": "system", "content": "You are Northwind's support assistant."},
                         {"role": "user", "content": user},
                         {"role": "assistant", "content": "Thanks for contacting Northwind! Your order is on its way."}]}


USERS = ["Could you tell me where my order NW-12345 is?", "My tent arrived with a broken pole, what can I do?",
         "I want to return the jacket I bought last week.", "Please cancel order NW-55555 because I ordered twice.",
         "How long does shipping take to Missoula?", "The backpack zipper broke after two days of light use."]


@pytest.fixture
def table() -> pl.DataFrame:
    return schema.from_rows(conversation(i, u) for i, u in enumerate(USERS))


def run(component, table, seed=0, tmp_path=None):
    result = component.run(table, scratch_context(tmp_path, seed=seed))
    assert balance_problem(table.height, result) is None
    return result


def variants_of(result) -> pl.DataFrame:
    return result.table.filter(pl.col("id") != pl.col("source_id"))


def test_tokens_rebuild_text_and_mark_protected_kinds():
    lead, tokens = tokenize(PROTECTED_TEXT)
    assert lead + "".join(t.text + t.space for t in tokens) == PROTECTED_TEXT
    kinds = {t.text: t.kind for t in tokens}
    assert kinds["NW-48213"] == "code" and kinds["[EMAIL]"] == "placeholder" and kinds["5"] == "number"
    assert kinds["https://northwind.example/help?id=42"] == "url" and kinds["Ethan"] == "entity"
    assert kinds["I"] == "stopword" and kinds["order"] == "word"
    assert protected_altered("order NW-48213 for Ethan", "order NW - 48213 for ethan") == ["Ethan", "NW-48213"]


@pytest.mark.parametrize("seed", range(40))
def test_fast_typos_never_touch_protected_tokens(seed):
    o = TypoOptions(ops=["keyboard", "swap", "insert", "delete", "ocr", "case", "punctuation"], word_rate=1.0)
    noisy = add_typos(PROTECTED_TEXT, random.Random(seed), o)
    assert noisy != PROTECTED_TEXT
    assert protected_altered(PROTECTED_TEXT, noisy) == []
    assert all(k in noisy for k in KEPT)


def test_roles_default_to_user_and_can_select_assistant(table, tmp_path):
    out = variants_of(run(Typos({"min_similarity": 0}), table, tmp_path=tmp_path / "a"))
    assert out.height == table.height
    originals = {r["id"]: r for r in table.to_dicts()}
    for row in out.to_dicts():
        before = originals[row["source_id"]]["messages"]
        assert row["messages"][0] == before[0] and row["messages"][2] == before[2]  # system, assistant untouched
        assert row["messages"][1]["content"] != before[1]["content"]
    out = variants_of(run(Typos({"min_similarity": 0, "roles": ["assistant"]}), table, tmp_path=tmp_path / "b"))
    for row in out.to_dicts():
        before = originals[row["source_id"]]["messages"]
        assert row["messages"][1] == before[1] and row["messages"][2]["content"] != before[2]["content"]


def test_lineage_meta_and_ledger(table, tmp_path):
    result = run(Typos({"min_similarity": 0, "variants": 2}), table, seed=7, tmp_path=tmp_path)
    new = variants_of(result)
    rejected = result.ledger.filter(pl.col("action") == "rejected")
    assert new.height + rejected.height == 2 * table.height and new["id"].n_unique() == new.height
    assert set(rejected["reason"]) <= {base.DUPLICATE}
    assert set(new["origin"]) == {"typos"} and set(new["split"]) == {"train"}
    assert set(new["source_id"]) == set(table["id"])
    meta = json.loads(new["meta"][0])
    assert meta["augmenter"] == "typos" and meta["seed"] == 7 and meta["augmented_from"] == new["source_id"][0]
    added = result.ledger.filter(pl.col("action") == "added")
    assert sorted(added["row_id"]) == sorted(new["id"])
    assert result.stats["added"] == new.height and result.stats["candidates"] == 2 * table.height


def test_same_seed_same_output_other_seed_differs(table, tmp_path):
    a = run(Typos({"min_similarity": 0, "variants": 2}), table, seed=1, tmp_path=tmp_path / "a").table
    b = run(Typos({"min_similarity": 0, "variants": 2}), table, seed=1, tmp_path=tmp_path / "b").table
    c = run(Typos({"min_similarity": 0, "variants": 2}), table, seed=2, tmp_path=tmp_path / "c").table
    assert a.equals(b)
    assert not a.equals(c)


def test_only_chosen_splits_are_augmented(tmp_path):
    rows = [conversation(0, USERS[0], "train"), conversation(1, USERS[1], "test"), conversation(2, USERS[2], None)]
    table = schema.from_rows(rows)
    new = variants_of(run(Typos({"min_similarity": 0}), table, tmp_path=tmp_path / "a"))
    assert sorted(new["source_id"]) == ["r0", "r2"]  # unsplit rows too by default
    again = run(Typos({"min_similarity": 0}), run(Typos({"min_similarity": 0}), table, tmp_path=tmp_path / "c").table,
                tmp_path=tmp_path / "d")
    assert variants_of(again).height == 4  # variants are not augmented again (originals_only)
    new = variants_of(run(Typos({"min_similarity": 0, "unsplit": False}), table, tmp_path=tmp_path / "b"))
    assert list(new["source_id"]) == ["r0"]


def test_rejections_name_their_reason(tmp_path):
    class DropsCode(base.TextAugmenter):
        name = "drops-code"

        def propose(self, texts, seeds, variant, ctx):
            return [t.replace("NW-12345", "the order") if variant == 0 else t for t in texts]

    table = schema.from_rows([conversation(0, USERS[0]), conversation(1, "Nothing to rephrase here")])
    ledger = run(DropsCode({"min_similarity": 0, "variants": 2}), table, tmp_path=tmp_path / "a").ledger
    reasons = dict(ledger.filter(pl.col("action") == "rejected").group_by("reason").len().iter_rows())
    assert reasons == {base.PROTECTED: 1, base.IDENTICAL: 3}
    # a rule-based augmenter with one applicable rule repeats itself: the repeat is a duplicate
    result = run(Structure({"min_similarity": 0, "variants": 2}), table.head(1), tmp_path=tmp_path / "b")
    assert variants_of(result)["messages"][0][1]["content"] == "Tell me where my order NW-12345 is."
    assert result.ledger.filter(pl.col("action") == "rejected")["reason"].to_list() == [base.DUPLICATE]


@pytest.mark.parametrize("before, after", [
    ("Could you tell me about the return policy?", "Tell me about the return policy."),
    ("Tell me about the warranty.", "Could you tell me about the warranty?"),
    ("Hi! Can you please track order NW-50794 for me?", "Hi! Please track order NW-50794 for me."),
    ("I'd like to know when it ships.", "Could you tell me when it ships?"),
    ("I'm writing because the tent arrived torn.", "Because the tent arrived torn, I'm writing."),
    ("If it rains, the Cascade Rain Shell keeps me dry.", "The Cascade Rain Shell keeps me dry if it rains."),
])
def test_structure_rules(before, after):
    assert restructure(before, random.Random(0)) == after


def test_split_after_augmenting_keeps_test_variants_out_of_train(tmp_path):
    """load -> split -> augment -> split again: no variant of a test row reaches train."""
    rows = [conversation(i, f"{USERS[i % len(USERS)]} Ticket {i}.", None) for i in range(40)]
    table = schema.from_rows(rows)
    split = Split({"train": 0.6, "validation": 0.2, "test": 0.2, "stratify_by": None})
    table = run(split, table, seed=3, tmp_path=tmp_path / "s1").table
    test_ids = set(table.filter(pl.col("split") == "test")["id"])
    assert test_ids
    augmented = run(Typos({"min_similarity": 0, "variants": 2, "splits": ["train", "validation", "test"]}),
                    table, seed=3, tmp_path=tmp_path / "aug").table
    # forget the splits and split again, group-aware on source_id
    resplit = run(Split({"train": 0.6, "validation": 0.2, "test": 0.2, "stratify_by": None, "keep_existing": False}),
                  augmented.with_columns(pl.lit(None, dtype=pl.Utf8).alias("split")), seed=11,
                  tmp_path=tmp_path / "s2").table
    splits_per_group = resplit.group_by("source_id").agg(pl.col("split").n_unique().alias("n"))
    assert splits_per_group["n"].max() == 1
    # with the default options the test rows are never augmented at all
    default = variants_of(run(Typos({"min_similarity": 0, "unsplit": False}), table, tmp_path=tmp_path / "d"))
    assert not set(default["source_id"]) & test_ids
    assert set(default["split"]) == {"train"}


def test_eda_keeps_protected_tokens(tmp_path):
    table = schema.from_rows([conversation(0, PROTECTED_TEXT)])
    result = run(Eda({"min_similarity": 0, "variants": 6, "ops": ["swap", "delete"], "word_rate": 0.5}), table,
                 tmp_path=tmp_path)
    new = variants_of(result)
    assert new.height >= 1
    for row in new.to_dicts():
        assert protected_altered(PROTECTED_TEXT, row["messages"][1]["content"]) == []


def test_backtranslate_without_models_names_what_is_missing(table, tmp_path):
    from workbench.errors import WorkbenchError
    from workbench.plugins.augmenters.backtranslate import BackTranslate

    with pytest.raises(WorkbenchError, match="forward_model") as err:
        run(BackTranslate(), table, tmp_path=tmp_path)
    assert "MarianMT" in err.value.hint
    with pytest.raises(WorkbenchError, match="no config.json"):
        run(BackTranslate({"forward_model": str(tmp_path / "nope"), "backward_model": "x"}), table, tmp_path=tmp_path)
