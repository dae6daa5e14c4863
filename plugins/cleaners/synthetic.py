"""A synthetic support-chat table with known dirt: duplicates, near duplicates,
PII, mojibake, bad structure, poor answers. Used by the curation benchmark and
the larger-than-memory test; ``family`` tells which rows are near copies.
"""

from __future__ import annotations

import random

import polars as pl

from workbench import schema

NAMES = ["John", "Mary", "Peter", "Aisha", "Chen", "Olga", "Diego", "Fatima", "Lars", "Priya", "Tom", "Yuki"]
PRODUCTS = ["router", "laptop", "headset", "printer", "monitor", "keyboard", "camera", "phone case", "charger", "speaker"]
ASKS = ["my {p} stopped working after the update", "the {p} I ordered arrived damaged", "I want to return the {p}",
        "the {p} keeps disconnecting every few minutes", "I was charged twice for the {p}",
        "how do I reset the {p} to factory settings", "my {p} order {o} has not arrived yet"]
ANSWERS = ["I'm sorry about the trouble with your {p}. Please hold the power button for ten seconds and try again.",
           "Thanks for reaching out. I have opened a return for order {o}; you will get a prepaid label by mail.",
           "I can see the duplicate charge for the {p}. The refund will appear within five business days.",
           "Please update the {p} firmware from the settings page, then restart it and check the connection.",
           "Your order {o} is with the courier and should arrive within two days. You can track it in your account."]
WORDS = ("quick slow blue green small large warm cold today yesterday morning evening again still really quite "
         "office home kitchen garden travel weekend school work cable battery screen button light sound signal "
         "manual warranty receipt store online box label courier address package invoice account settings").split()
PII = ["You can reach me at {n}.{s}@example.com", "Call me back on +44 20 7946 {d4}", "My card is 4111 1111 1111 1111",
       "My IBAN is GB82 WEST 1234 5698 7654 32", "The router IP is 192.168.{d1}.{d2}", "See https://shop.example.com/o/{o}"]
REFUSAL = "As an AI language model, I cannot help with that request."


def synthetic_table(rows: int, seed: int = 0) -> tuple[pl.DataFrame, list[int]]:
    """``rows`` conversations and the near-duplicate family of each (-1: none)."""
    out: list[dict] = []
    family: list[int] = []
    for i, msgs, src, near in _conversations(rows, random.Random(seed)):
        if src is None:
            family.append(-1)
        else:
            if near and family[src] < 0:
                family[src] = src
            family.append(family[src])
        out.append({"id": f"r{i}", "messages": msgs})
    return schema.from_rows(out), family


def write_synthetic_parquet(path, rows: int, seed: int = 0, part_rows: int = 50_000, window: int = 200_000) -> None:
    """The same kind of table written to Parquet a part at a time, for more rows than memory holds.

    Copies and near copies are made of the last ``window`` to ``2 * window``
    conversations (``synthetic_table`` picks from all before), so memory is
    bounded by the window and one part; the rows differ from ``synthetic_table``'s.
    """
    import pyarrow.parquet as pq

    writer = None
    part: list[dict] = []
    try:
        for i, msgs, _, _ in _conversations(rows, random.Random(seed), window):
            part.append({"id": f"r{i}", "messages": msgs})
            if len(part) == part_rows or i == rows - 1:
                arrow = schema.from_rows(part).to_arrow()
                writer = writer or pq.ParquetWriter(path, arrow.schema)
                writer.write_table(arrow)
                part = []
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        schema.empty_table().write_parquet(path)


def _conversations(rows: int, rng: random.Random, window: int | None = None):
    """(row number, turns, the row it copies or None, whether a near copy) for ``rows`` conversations.

    Sources are drawn from the conversations so far, or with ``window`` from
    the last ``window`` to ``2 * window`` of them.
    """
    recent: list[list[dict]] = []
    first = 0  # the row number of recent[0]
    for i in range(rows):
        r = rng.random()
        src = None
        if recent and r < 0.06:  # exact copy, spacing and case varied
            src = rng.randrange(len(recent))
            msgs = [dict(m, content="  " + m["content"].upper() + " ") if m["role"] == "user" else dict(m) for m in recent[src]]
        elif recent and r < 0.16:  # near copy: another name, or one word changed
            src = rng.randrange(len(recent))
            msgs = [dict(m, content=_perturb(m["content"], rng)) if m["role"] != "system" else dict(m) for m in recent[src]]
        else:
            msgs = _conversation(rng)
        yield i, msgs, None if src is None else first + src, src is not None and r >= 0.06
        recent.append(msgs)
        if window is not None and len(recent) >= 2 * window:
            del recent[:window]
            first += window


def _conversation(rng: random.Random) -> list[dict]:
    p, o, n = rng.choice(PRODUCTS), f"#{rng.randrange(100000, 999999)}", rng.choice(NAMES)
    filler = " ".join(rng.choices(WORDS, k=rng.randrange(6, 14)))
    user = f"Hi, my name is {n}. {rng.choice(ASKS).format(p=p, o=o).capitalize()}. {filler.capitalize()}."
    answer = f"{rng.choice(ANSWERS).format(p=p, o=o)} {' '.join(rng.choices(WORDS, k=rng.randrange(4, 10)))}."
    if rng.random() < 0.15:
        user += " " + rng.choice(PII).format(n=n.lower(), s=rng.choice(WORDS), d4=rng.randrange(1000, 9999),
                                             d1=rng.randrange(256), d2=rng.randrange(256), o=o[1:])
    dirt = rng.random()
    if dirt < 0.05:
        answer = answer.replace("'", "â€™")
    elif dirt < 0.12:
        user = user.replace(" ", "   ", 2) + "\u200b"
    elif dirt < 0.15:
        answer = answer.replace("'", "\u2019")
    msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    q = rng.random()
    if q < 0.02:
        msgs[1]["content"] = ""
    elif q < 0.03:
        msgs[1]["content"] = REFUSAL
    elif q < 0.04:
        msgs[1]["content"] = "Click here for a discount! " * 6
    elif q < 0.07:
        msgs.append({"role": "user", "content": "Are you still there?"})
    elif q < 0.09:
        msgs.insert(1, {"role": "user", "content": "Hello??"})
    if rng.random() < 0.3:
        msgs.insert(0, {"role": "system", "content": "You are a helpful support agent for Acme."})
    return msgs


def _perturb(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for name in NAMES:
        if name + "." in words:
            words[words.index(name + ".")] = rng.choice([x for x in NAMES if x != name]) + "."
            return " ".join(words)
    k = rng.randrange(len(words))
    words[k] = rng.choice(WORDS)
    return " ".join(words)
