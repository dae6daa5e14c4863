"""The sample data: counts, house style, no held-out overlap, reproducible, planted dirt present.

Only the stdlib ``json`` module reads the files here, so these tests do not
depend on Workbench's own loader.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
SCRIPT = ROOT / "scripts" / "make_sample_data.py"
GENERATED = ("support.jsonl", "heldout.jsonl", "dirty_rows.json")
ORDER_ID = re.compile(r"NW-\d{5}")
ANSWER_WITHOUT_ORDER = ("account_access", "shipping_info", "product_question", "payment_methods")
CARD_LIKE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?!\w)")


def _gen():
    spec = importlib.util.spec_from_file_location("make_sample_data", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _gen()


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in re.sub(r"\D", "", number)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def read_lines(name: str) -> list[str]:
    return (SAMPLE / name).read_text(encoding="utf-8").split("\n")[:-1]


def parsed(lines: list[str]) -> dict[int, dict]:
    """1-based line number -> object, for the lines that parse."""
    out = {}
    for n, line in enumerate(lines, 1):
        try:
            out[n] = json.loads(line)
        except json.JSONDecodeError:
            pass
    return out


def well_formed(row: dict) -> bool:
    msgs = row.get("messages")
    return (isinstance(msgs, list) and all(m.get("role") in ("system", "user", "assistant") for m in msgs)
            and any(m["role"] == "assistant" for m in msgs))


def user_turns(row: dict) -> list[str]:
    return [m["content"] for m in row["messages"] if m["role"] == "user"]


@pytest.fixture(scope="module")
def support():
    lines = read_lines("support.jsonl")
    return lines, parsed(lines)


@pytest.fixture(scope="module")
def heldout():
    return list(parsed(read_lines("heldout.jsonl")).values())


@pytest.fixture(scope="module")
def manifest():
    return json.loads((SAMPLE / "dirty_rows.json").read_text(encoding="utf-8"))


def test_support_counts_intents_and_multi_turn(support):
    _, rows = support
    good = [r for r in rows.values() if well_formed(r)]
    assert len(good) >= 330
    labels = Counter(r["label"] for r in good)
    assert len(labels) >= 10 and set(labels) == set(gen.INTENTS)
    assert min(labels.values()) >= 20
    multi = sum(len(user_turns(r)) >= 2 for r in good) / len(good)
    assert 0.15 <= multi <= 0.25
    assert max(len(user_turns(r)) for r in good) == 3


def test_every_row_has_system_prompt_label_and_id(support):
    _, rows = support
    ids = [r["id"] for r in rows.values()]
    assert len(ids) == len(set(ids))
    for r in rows.values():
        assert r["messages"][0] == {"role": "system", "content": gen.SYSTEM_PROMPT}
        assert r["label"] in gen.INTENTS and re.fullmatch(r"nw-\d{4}", r["id"])


def test_clean_answers_follow_the_house_style(support, manifest):
    _, rows = support
    planted = {m["line"] for m in manifest if m["dirty"]}
    for n, r in rows.items():
        if n in planted:
            continue
        answers = [m["content"] for m in r["messages"] if m["role"] == "assistant"]
        assert answers[0].startswith("Thanks for contacting Northwind Outfitters")
        assert answers[0].endswith(gen.SIGN_OFF)
        order_id = ORDER_ID.search(r["messages"][1]["content"])
        if order_id and r["label"] not in ANSWER_WITHOUT_ORDER:
            assert order_id.group() in answers[0], n  # the answer reuses the slot


def test_dirty_share_and_manifest_matches_the_lines(support, manifest):
    lines, rows = support
    dirty = [m for m in manifest if m["dirty"]]
    assert 0.08 <= len(dirty) / len(lines) <= 0.10
    for m in manifest:
        line = lines[m["line"] - 1]
        if m["id"] is not None:
            assert f'"id": "{m["id"]}"' in line
        if "value" in m:
            assert m["value"] in line
    kinds = Counter(m["kind"] for m in dirty)
    assert kinds["exact_duplicate"] == 3 and kinds["near_duplicate"] == 3
    assert kinds["email"] == 2 and kinds["phone"] == 4 and kinds["iban"] == 1
    assert kinds["empty_answer"] == 2 and kinds["overlong"] == 2


def test_malformed_lines(support, manifest):
    lines, rows = support
    at = {m["kind"]: m["line"] for m in manifest}
    unparsable = [n for n in range(1, len(lines) + 1) if n not in rows]
    assert unparsable == sorted([at["invalid_json"], at["blank_line"]])
    assert lines[at["blank_line"] - 1] == ""
    assert [n for n, r in rows.items() if not well_formed(r)] == sorted([at["unknown_role"], at["no_assistant"]])
    assert [m["role"] for m in rows[at["unknown_role"]]["messages"]] == ["system", "user", "agent"]
    assert [m["role"] for m in rows[at["no_assistant"]]["messages"]] == ["system", "user"]


def test_card_numbers_luhn(support, manifest):
    lines, _ = support
    cards = [m["value"] for m in manifest if m["kind"] == "card_number"]
    fake = [m["value"] for m in manifest if m["kind"] == "card_like_not_luhn"]
    assert len(cards) == 3 and all(luhn_ok(c) for c in cards)
    assert len(fake) == 1 and not luhn_ok(fake[0])
    found = CARD_LIKE.findall("\n".join(lines))
    assert sorted(c for c in found if luhn_ok(c)) == sorted(cards)  # no accidental valid cards


def test_text_defects(support, manifest):
    lines, rows = support
    by_kind: dict[str, list[dict]] = {}
    for m in manifest:
        by_kind.setdefault(m["kind"], []).append(rows.get(m["line"]))
    assert sum("â€" in line for line in lines) == 3 == len(by_kind["mojibake"])
    assert all(any("â€" in x["content"] for x in r["messages"]) for r in by_kind["mojibake"])
    zero_width = re.compile("[\u200b\u200d\u2060\ufeff]")
    assert sum(bool(zero_width.search(line)) for line in lines) == 2
    assert all(re.search("[\u2018\u2019\u201c\u201d]", json.dumps(r, ensure_ascii=False))
               for r in by_kind["smart_quotes_zero_width"])
    for r in by_kind["empty_answer"]:
        assert r["messages"][-1]["content"].strip() == ""
    assert by_kind["refusal"][0]["messages"][-1]["content"].startswith("As an AI language model")
    spam = by_kind["spam_answer"][0]["messages"][-1]["content"]
    assert spam.count("Please check your email.") >= 100
    for r in by_kind["overlong"]:
        assert len(r["messages"][1]["content"].split()) >= 2000


def test_duplicates(support, manifest):
    _, rows = support
    by_id = {r["id"]: r for r in rows.values()}
    for m in manifest:
        if m["kind"] not in ("exact_duplicate", "near_duplicate"):
            continue
        row, original = rows[m["line"]], by_id[m["duplicate_of"]]
        assert row["id"] != original["id"] and row["label"] == original["label"]
        if m["kind"] == "exact_duplicate":
            assert row["messages"] == original["messages"]
        else:
            assert row["messages"] != original["messages"]
            a, b = user_turns(row)[0].split(), user_turns(original)[0].split()
            assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1


def test_decoys_carry_no_pii(support, manifest):
    _, rows = support
    decoys = [rows[m["line"]] for m in manifest if m["kind"] == "decoy_not_pii"]
    assert len(decoys) == 2 and all(not m["dirty"] for m in manifest if m["kind"] == "decoy_not_pii")
    for r in decoys:
        text = r["messages"][1]["content"]
        assert ORDER_ID.search(text) and "$" in text
        assert "@" not in text and not any(luhn_ok(c) for c in CARD_LIKE.findall(text))


def test_heldout_is_clean_and_disjoint(support, heldout):
    _, rows = support
    assert len(heldout) == gen.N_HELDOUT
    assert all(well_formed(r) and r["messages"][0]["content"] == gen.SYSTEM_PROMPT for r in heldout)
    assert set(r["label"] for r in heldout) == set(gen.INTENTS)
    assert sum(len(user_turns(r)) == 1 for r in heldout) >= 0.8 * len(heldout)
    held_users = {u for r in heldout for u in user_turns(r)}
    support_users = {u for r in rows.values() if isinstance(r.get("messages"), list) for u in user_turns(r)}
    assert not held_users & support_users
    assert not {r["id"] for r in heldout} & {r["id"] for r in rows.values()}
    held_orders = set(ORDER_ID.findall(" ".join(held_users)))
    assert held_orders and not held_orders & set(ORDER_ID.findall(" ".join(support_users)))
    for intent, (pool, held_pool) in gen.TEMPLATES.items():
        assert not set(pool) & set(held_pool), intent
    assert not {p for p, _ in gen.PRODUCTS[0]} & {p for p, _ in gen.PRODUCTS[1]}


def test_generator_reproduces_the_committed_files(tmp_path):
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True, capture_output=True)
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_docs_list_every_planted_row(manifest):
    doc = (ROOT / "docs" / "sample_data.md").read_text(encoding="utf-8")
    for m in manifest:
        assert f"| {m['line']} | {m['id'] or '-'} | {m['kind']} |" in doc, m
