"""Feedback becomes data: supervised rows from corrections, preference pairs from choices, corrections and ratings.

Both are canonical tables (``origin = "feedback"``, ``source_id`` = the
logged exchange), so they go through the usual cleaners and splits. A
preference pair is a row whose messages end with the *chosen* answer; the
rejected answer and where the pair came from ride in ``meta``
(``rejected``, ``pair_from``, ``exchange_ids``, ``feedback_ids``), which
every step keeps. The logged text was PII-redacted when it was stored
(the server's default), the rejected answer included.

Pairs come from three kinds of feedback:

- ``preference``: a tester chose one model's answer over another's to the same prompt;
- ``correction``: the corrected answer is preferred over the original;
- ``rating``: of two answers to the same prompt, the one with the higher mean rating
  (thumbs: down = 1, up = 5 on the 1-5 scale) is preferred; ties give no pair.
"""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import combinations
from typing import Any

import polars as pl

from workbench import schema
from workbench.feedback.agreement import five_point
from workbench.feedback.store import FeedbackStore

ORIGIN = "feedback"


def _row(row_id: str, messages: list[dict[str, Any]], answer: str, source: str, **meta: Any) -> dict[str, Any]:
    turns = [{"role": m["role"], "content": m["content"]} for m in messages]
    return {"id": row_id, "messages": [*turns, {"role": "assistant", "content": answer}], "source_id": source,
            "origin": ORIGIN, "meta": meta}


def supervised_rows(store: FeedbackStore) -> pl.DataFrame:
    """One training row per correction: the exchange's prompt answered with the corrected text."""
    exchanges = {e["id"]: e for e in store.exchanges()}
    rows = [_row(f"fb-sft-{f['id']}", exchanges[f["exchange_id"]]["messages"], f["text"], f["exchange_id"],
                 exchange_ids=[f["exchange_id"]], feedback_ids=[f["id"]], tester=f["tester"],
                 model=exchanges[f["exchange_id"]]["model"])
            for f in store.feedback() if f["kind"] == "correction"]
    return schema.from_rows(rows) if rows else schema.empty_table()


def preference_pairs(store: FeedbackStore) -> pl.DataFrame:
    """Preference pairs (prompt, chosen, rejected) with their source exchange and feedback ids; see the module."""
    exchanges = {e["id"]: e for e in store.exchanges()}
    feedback = store.feedback()
    pairs: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(prompt: list[dict[str, Any]], chosen: str, rejected: str, kind: str, exchange_ids: list[str],
            feedback_ids: list[int]) -> None:
        if chosen.strip() == rejected.strip():
            return
        key = (json.dumps(prompt, sort_keys=True), chosen, rejected)
        pair = pairs.setdefault(key, {"prompt": prompt, "chosen": chosen, "rejected": rejected, "pair_from": [],
                                      "exchange_ids": [], "feedback_ids": []})
        pair["pair_from"] += [kind] if kind not in pair["pair_from"] else []
        pair["exchange_ids"] += [e for e in exchange_ids if e not in pair["exchange_ids"]]
        pair["feedback_ids"] += [f for f in feedback_ids if f not in pair["feedback_ids"]]

    ratings: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for f in feedback:
        ex = exchanges[f["exchange_id"]]
        if f["kind"] == "preference":
            add(ex["messages"], ex["answer"], exchanges[f["other_id"]]["answer"], "preference",
                [ex["id"], f["other_id"]], [f["id"]])
        elif f["kind"] == "correction":
            add(ex["messages"], f["text"], ex["answer"], "correction", [ex["id"]], [f["id"]])
        elif f["kind"] == "rating":
            ratings[ex["id"]].append((five_point(f), f["id"]))
    by_prompt: dict[str, list[str]] = defaultdict(list)
    for exchange_id in ratings:
        by_prompt[json.dumps(exchanges[exchange_id]["messages"], sort_keys=True)].append(exchange_id)
    for ids in by_prompt.values():
        for a, b in combinations(ids, 2):
            mean_a, mean_b = (sum(r for r, _ in ratings[x]) / len(ratings[x]) for x in (a, b))
            if mean_a != mean_b:
                hi, lo = (a, b) if mean_a > mean_b else (b, a)
                add(exchanges[hi]["messages"], exchanges[hi]["answer"], exchanges[lo]["answer"], "rating", [hi, lo],
                    [i for x in (hi, lo) for _, i in ratings[x]])
    rows = [_row(f"fb-pair-{n}", p["prompt"], p["chosen"], p["exchange_ids"][0], rejected=p["rejected"],
                 pair_from=p["pair_from"], exchange_ids=p["exchange_ids"], feedback_ids=p["feedback_ids"])
            for n, p in enumerate(pairs.values(), 1)]
    return schema.from_rows(rows) if rows else schema.empty_table()


def pair_fields(row: dict[str, Any]) -> tuple[list[dict[str, Any]], str, str]:
    """(prompt turns, chosen, rejected) of a preference row, as a preference trainer reads it."""
    meta = schema.meta_of(row)
    if "rejected" not in meta:
        from workbench.errors import RowError

        raise RowError(str(row.get("id")), "a preference row needs meta.rejected (the rejected answer)")
    *prompt, chosen = row["messages"]
    return [{"role": m["role"], "content": m["content"]} for m in prompt], chosen["content"], str(meta["rejected"])
