"""Semantic dedup with the embedded MiniLM: known answer on paraphrases."""

import json

from workbench import schema
from workbench.context import scratch_context
from workbench.plugins.cleaners.semantic import SemanticDedup


def conv(i: str, user: str) -> dict:
    return {"id": i, "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": "Sure."}]}


def test_paraphrase_is_dropped_and_recorded_distinct_request_kept():
    table = schema.from_rows([
        conv("a", "Where is my order? It has not arrived yet."),
        conv("b", "My order hasn't arrived yet, where is it?"),
        conv("c", "How do I reset the password of my account?"),
    ])
    result = SemanticDedup({"threshold": 0.8, "on": "user"}).run(table, scratch_context())
    assert result.table["id"].to_list() == ["a", "c"]
    (entry,) = result.ledger.to_dicts()
    assert entry["row_id"] == "b" and entry["action"] == "dropped"
    detail = json.loads(entry["detail"])
    assert detail["duplicate_of"] == "a" and detail["cosine"] >= 0.8
    assert json.loads(entry["row"])["id"] == "b"
