"""Chat rows straight from an OpenAI chat JSONL file, for benchmarks and launched jobs.

Runs get their table from the load step; the benchmark and ``accelerate
launch`` jobs read a file directly. Lines that are not JSON objects with a
``messages`` list holding an assistant turn are skipped (and counted).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from workbench.schema import ROLES


def read_chat_jsonl(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """``(rows, skipped)``: rows are ``{id, messages}`` dicts, with the record's ``label`` when it has one."""
    rows, skipped = [], 0
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                record = json.loads(line)
                messages = record["messages"]
                ok = all(m["role"] in ROLES and isinstance(m["content"], str) for m in messages)
                ok = ok and any(m["role"] == "assistant" for m in messages)
            except (json.JSONDecodeError, KeyError, TypeError):
                ok = False
            if not ok:
                skipped += 1
                continue
            label = record.get("label")
            rows.append({"id": str(record.get("id", lineno)), "messages": messages,
                         **({"label": label} if isinstance(label, str) else {})})
    return rows, skipped


def split_rows(rows: list[dict[str, Any]], validation: float, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A seeded random train/validation split."""
    order = list(rows)
    random.Random(seed).shuffle(order)
    n_val = int(round(len(order) * validation))
    return order[n_val:], order[:n_val]
