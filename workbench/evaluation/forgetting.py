"""Forgetting check: did fine-tuning hurt general knowledge or instruction following?

A small probe set written for this project (``workbench/data/probes.jsonl``)
is answered by every model with the same decoding; each probe has simple
checks (``any``: one phrase present, case-insensitive; ``any_case``: the same,
case-sensitive; ``regex``; ``max_words``; ``min_lines``). A probe the base
model passes and another model fails is a drop; drops are flagged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

PROBES = Path(__file__).resolve().parent.parent / "data" / "probes.jsonl"


def load_probes(path: Path | None = None) -> list[dict[str, Any]]:
    lines = (path or PROBES).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def probe_passes(probe: dict[str, Any], answer: str) -> tuple[bool, str]:
    """Whether ``answer`` meets every check of ``probe``, and the first failed check."""
    text = answer.strip()
    checks = [
        ("any", lambda v: any(p.lower() in text.lower() for p in v)),
        ("any_case", lambda v: any(p in text for p in v)),
        ("regex", lambda v: re.search(v, text, flags=re.IGNORECASE | re.DOTALL) is not None),
        ("max_words", lambda v: len(text.split()) <= v),
        ("min_lines", lambda v: len([ln for ln in text.splitlines() if ln.strip()]) >= v),
    ]
    for key, ok in checks:
        if key in probe and not ok(probe[key]):
            return False, f"{key} {probe[key]!r} not met"
    return True, "all checks met"


def probe_prompts(probes: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": p["prompt"]}] for p in probes]


def score_probes(probes: list[dict[str, Any]], answers: list[str]) -> list[dict[str, Any]]:
    rows = []
    for probe, answer in zip(probes, answers):
        passed, why = probe_passes(probe, answer)
        rows.append({"id": probe["id"], "kind": probe["kind"], "prompt": probe["prompt"], "answer": answer,
                     "passed": passed, "why": why})
    return rows


def forgetting_summary(per_model: dict[str, list[dict[str, Any]]], base: str, max_drop: float = 0.1) -> dict[str, Any]:
    """Pass rates per model and kind; models losing probes the base passes are flagged.

    A model is flagged when its pass rate falls more than ``max_drop`` below the base's.
    """
    def rates(rows: list[dict[str, Any]]) -> dict[str, float]:
        out = {"all": sum(r["passed"] for r in rows) / len(rows)}
        for kind in sorted({r["kind"] for r in rows}):
            sub = [r for r in rows if r["kind"] == kind]
            out[kind] = sum(r["passed"] for r in sub) / len(sub)
        return out

    base_rows = {r["id"]: r for r in per_model[base]}
    summary: dict[str, Any] = {"base": base, "max_drop": max_drop, "models": {}}
    for model, rows in per_model.items():
        lost = [r["id"] for r in rows if base_rows[r["id"]]["passed"] and not r["passed"]]
        gained = [r["id"] for r in rows if r["passed"] and not base_rows[r["id"]]["passed"]]
        r = rates(rows)
        summary["models"][model] = {"pass_rate": r, "lost": lost, "gained": gained,
                                    "flagged": model != base and r["all"] < rates(per_model[base])["all"] - max_drop,
                                    "probes": rows}
    return summary
