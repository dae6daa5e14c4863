"""WordNet synonyms: protected tokens, part-of-speech consistency, determinism."""

from __future__ import annotations

import random

import pytest

from workbench import schema
from workbench.context import scratch_context
from workbench.plugins.augmenters.protect import tokenize
from workbench.plugins.augmenters.synonyms import Lexicon, Synonyms
from workbench.resources import nltk_data

pytestmark = pytest.mark.skipif(not (nltk_data.WORDNET_SOURCE / "data.noun").is_file(),
                                reason="apt-get install wordnet-base wordnet-sense-index")

TEXT = ("I need to change the order NW-48213 I placed, so please email [EMAIL] or open "
        "https://northwind.example/help?id=42 before 5 pm. Thanks, Ethan")


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load(1)


def test_protected_tokens_survive_every_seed(lexicon):
    for seed in range(30):
        new = lexicon.replace(TEXT, random.Random(seed), 1.0)
        for kept in ("NW-48213", "[EMAIL]", "https://northwind.example/help?id=42", " 5 ", "Ethan", " I "):
            assert kept in new, (kept, new)
        assert new.startswith("I ") and "iodine" not in new.lower()
    assert new != TEXT


def test_order_as_noun_is_never_replaced_by_a_verb(lexicon):
    _, tokens = tokenize("I need to change the order I placed.")
    i = [t.text for t in tokens].index("order")
    assert lexicon.tag(tokens, i) == "n"
    assert all(lexicon.main_pos(s) == "n" for s in lexicon.candidates(tokens, i))
    assert "regulate" not in lexicon.candidates(tokens, i) and "govern" not in lexicon.candidates(tokens, i)
    _, tokens = tokenize("I want to order a tent.")
    assert lexicon.tag(tokens, [t.text for t in tokens].index("order")) == "v"


def test_every_replacement_has_the_part_of_speech_of_the_original(lexicon):
    sentences = ["My tent arrived with a broken pole and the zipper is stuck.",
                 "How long does the repair take for a damaged jacket?",
                 "I need a refund because the boots are too small."]
    for text in sentences:
        _, before = tokenize(text)
        for seed in range(10):
            _, after = tokenize(lexicon.replace(text, random.Random(seed), 1.0))
            assert len(after) == len(before)
            for i, (a, b) in enumerate(zip(before, after)):
                if a.text != b.text:
                    pos = lexicon.tag(before, i)
                    assert pos is not None and b.text in lexicon.candidates(before, i), (a.text, b.text)


def test_component_is_deterministic_and_user_only(tmp_path):
    rows = [{"id": "r1", "split": "train", "messages": [
        {"role": "user", "content": "I need a refund because the boots are too small."},
        {"role": "assistant", "content": "Sorry about the broken pole: we will send a replacement."}]}]
    table = schema.from_rows(rows)
    runs = [Synonyms({"min_similarity": 0, "variants": 2}).run(table, scratch_context(tmp_path / str(i), seed=5))
            for i in range(2)]
    assert runs[0].table.equals(runs[1].table)
    import polars as pl

    new = runs[0].table.filter(pl.col("origin") == "synonyms")
    assert new.height >= 1
    for row in new.to_dicts():
        assert row["messages"][1] == rows[0]["messages"][1] | {"weight": None}  # assistant untouched
        assert row["messages"][0]["content"] != rows[0]["messages"][0]["content"]
