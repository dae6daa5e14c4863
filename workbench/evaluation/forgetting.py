"""Forgetting check: did fine-tuning hurt general knowledge or instruction following?

A probe set written for this project (``workbench/resources/probes.jsonl``: short
questions on knowledge, arithmetic, instruction following, reasoning and
language) is answered by every model with the same greedy decoding, capped at
:data:`PROBE_MAX_NEW_TOKENS` so the pass stays cheap. Each probe has
objective checks, all of which must hold: ``any`` (one phrase present,
case-insensitive), ``any_case`` (the same, case-sensitive), ``number`` (one
of the values as a whole number or word: "7" matches "7 days", not "17" or
"7.5"), ``regex`` / ``regex_case``, ``max_words`` and ``min_lines``.

A model is flagged only when it passes significantly fewer probes than the
base on the same probes (exact McNemar test, p < :data:`ALPHA`): a few
probes that flip either way are noise, not forgetting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench import resources
from workbench.errors import WorkbenchError
from workbench.lm.generation import DecodeSettings

PROBES = resources.FOLDER / "probes.jsonl"
PROBE_MAX_NEW_TOKENS = 48
ALPHA = 0.05


def _number(values: list[str]) -> str:
    """A regex for any of ``values``: digits not inside a longer number, words as whole words."""
    parts = [rf"(?<![\d.,]){re.escape(v)}(?!\d|[.,]\d)" if v[-1].isdigit() else rf"\b{re.escape(v)}\b" for v in values]
    return "|".join(parts)


CHECKS: dict[str, Callable[[Any, str], bool]] = {
    "any": lambda v, text: any(p.lower() in text.lower() for p in v),
    "any_case": lambda v, text: any(p in text for p in v),
    "number": lambda v, text: re.search(_number(v), text, flags=re.IGNORECASE) is not None,
    "regex": lambda v, text: re.search(v, text, flags=re.IGNORECASE | re.DOTALL) is not None,
    "regex_case": lambda v, text: re.search(v, text, flags=re.DOTALL) is not None,
    "max_words": lambda v, text: len(text.split()) <= v,
    "min_lines": lambda v, text: len([ln for ln in text.splitlines() if ln.strip()]) >= v,
}


def load_probes(path: Path | None = None) -> list[dict[str, Any]]:
    """The probes of ``path`` (the packaged set by default), each checked for an id, a prompt and known checks."""
    path = path or PROBES
    probes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        probe = json.loads(line)
        checks = set(probe) - {"id", "kind", "prompt"}
        unknown = checks - set(CHECKS)
        if not {"id", "kind", "prompt"} <= set(probe) or unknown or not checks:
            raise WorkbenchError(f"{path}:{number}: a probe needs id, kind, prompt and at least one known check"
                                 + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else ""),
                                 hint=f"checks: {', '.join(CHECKS)}")
        probes.append(probe)
    return probes


def probe_passes(probe: dict[str, Any], answer: str) -> tuple[bool, str]:
    """Whether ``answer`` meets every check of ``probe``, and the first failed check."""
    text = answer.strip()
    for key, ok in CHECKS.items():
        if key in probe and not ok(probe[key], text):
            return False, f"{key} {probe[key]!r} not met"
    return True, "all checks met"


def probe_prompts(probes: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": p["prompt"]}] for p in probes]


def probe_settings(settings: DecodeSettings) -> DecodeSettings:
    """The evaluation's decoding with answers capped at :data:`PROBE_MAX_NEW_TOKENS` (probe answers are short)."""
    return settings.model_copy(update={"max_new_tokens": min(settings.max_new_tokens, PROBE_MAX_NEW_TOKENS)})


def score_probes(probes: list[dict[str, Any]], answers: list[str]) -> list[dict[str, Any]]:
    rows = []
    for probe, answer in zip(probes, answers):
        passed, why = probe_passes(probe, answer)
        rows.append({"id": probe["id"], "kind": probe["kind"], "prompt": probe["prompt"], "answer": answer,
                     "passed": passed, "why": why})
    return rows


def _rates(rows: list[dict[str, Any]]) -> dict[str, float]:
    out = {"all": sum(r["passed"] for r in rows) / len(rows)}
    for kind in sorted({r["kind"] for r in rows}):
        sub = [r for r in rows if r["kind"] == kind]
        out[kind] = sum(r["passed"] for r in sub) / len(sub)
    return out


def forgetting_summary(per_model: dict[str, list[dict[str, Any]]], base: str, alpha: float = ALPHA,
                       resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Pass rates per model and kind, and a paired test of each model against the base.

    A model is flagged when it passes fewer probes than the base and McNemar's
    exact test on the probes both answered gives p < ``alpha``.
    """
    from workbench.evaluation.significance import mcnemar

    base_passed = {r["id"]: r["passed"] for r in per_model[base]}
    base_rate = _rates(per_model[base])["all"]
    summary: dict[str, Any] = {"base": base, "test": "McNemar exact test on the probes, paired with the base",
                               "alpha": alpha, "n_probes": len(base_passed), "base_probe_pass_rate": base_rate,
                               "models": {}}
    for model, rows in per_model.items():
        rates = _rates(rows)
        entry: dict[str, Any] = {"pass_rate": rates, "probe_pass_rate": rates["all"], "base_probe_pass_rate": base_rate,
                                 "p_value": None, "flagged": False,
                                 "lost": [r["id"] for r in rows if base_passed[r["id"]] and not r["passed"]],
                                 "gained": [r["id"] for r in rows if r["passed"] and not base_passed[r["id"]]]}
        if model != base:
            c = mcnemar([base_passed[r["id"]] for r in rows], [r["passed"] for r in rows], resamples, seed)
            entry |= {"p_value": c.p_value, "difference": c.difference, "ci": [c.ci_low, c.ci_high],
                      "flagged": c.p_value is not None and c.p_value < alpha and rates["all"] < base_rate}
        summary["models"][model] = entry | {"probes": rows}
    return summary
