"""Checks every example must pass, and the ``workbench validate`` report.

The checks follow OpenAI's chat fine-tuning data-preparation guide (record is
an object, ``messages`` list, each turn's role and content, unrecognised keys
and roles, an assistant turn) and add: empty content, consecutive turns from
one role and a system turn after the start (warnings), duplicate ids and a
token limit. Codes, severities and hints live in :mod:`workbench.io.problems`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Sequence

from workbench.errors import WorkbenchError
from workbench.io.problems import ERROR, Problem, is_error, problem
from workbench.io.records import Record
from workbench.schema import ROLES

MESSAGE_KEYS = ("role", "content", "weight")
#: characters per token of the default approximation (OpenAI's rule of thumb for English)
CHARS_PER_TOKEN = 4
#: tokens added per turn by chat templates in the approximation
TOKENS_PER_TURN = 4


def check_messages(rec: Record) -> list[dict[str, Any]] | None:
    """Check a record's turns; return them as canonical turns, or None when unusable."""
    line, messages = rec.line, rec.fields.get("messages")
    add = rec.problems.append
    if not isinstance(messages, list) or not messages:
        what = "is empty" if isinstance(messages, list) else "is missing" if messages is None else "is not a list"
        add(problem(line, "messages", "missing_messages", f"messages list {what}"))
        return None
    turns = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            add(problem(line, rec.path(i), "message_not_object", f"turn {i} is a {type(m).__name__}, not an object"))
            continue
        for key in m:
            if key not in MESSAGE_KEYS:
                add(problem(line, rec.path(i, key), "unrecognized_message_key", f"unrecognized key {key!r} in a turn"))
        role, content, weight = m.get("role"), m.get("content"), m.get("weight")
        if role is None:
            add(problem(line, rec.path(i, "role"), "missing_role", f"turn {i} has no role"))
        elif role not in ROLES:
            add(problem(line, rec.path(i, "role"), "unknown_role", f"unrecognized role {role!r}"))
        if content is None:
            add(problem(line, rec.path(i, "content"), "missing_content", f"turn {i} has no content"))
        elif not isinstance(content, str):
            add(problem(line, rec.path(i, "content"), "content_not_string",
                        f"content is a {type(content).__name__}, not a string"))
        elif not content.strip():
            add(problem(line, rec.path(i, "content"), "empty_content", f"turn {i} ({role}) has empty content"))
        if weight is not None and (isinstance(weight, bool) or weight not in (0, 1)):
            add(problem(line, rec.path(i, "weight"), "invalid_weight", f"weight {weight!r} is not 0 or 1"))
            weight = None
        elif weight is not None and role in ROLES and role != "assistant":
            add(problem(line, rec.path(i, "weight"), "weight_not_assistant",
                        f"turn {i} ({role}) has a weight; only assistant turns are weighted"))
            weight = None
        turns.append({"role": role, "content": content, "weight": weight if weight is None else int(weight)})
    _check_order(rec, turns)
    return None if is_error(rec.problems) else turns


def _check_order(rec: Record, turns: list[dict[str, Any]]) -> None:
    roles = [t["role"] for t in turns]
    if roles and "assistant" not in roles:
        rec.problems.append(problem(rec.line, "messages", "no_assistant_message", "no assistant turn"))
    for i in range(1, len(roles)):
        if roles[i] == "system":
            rec.problems.append(problem(rec.line, rec.path(i, "role"), "system_not_first",
                                        f"system turn at position {i}, not first"))
        elif roles[i] == roles[i - 1]:
            rec.problems.append(problem(rec.line, rec.path(i, "role"), "consecutive_same_role",
                                        f"turns {i - 1} and {i} are both {roles[i]}"))


def check_split(rec: Record) -> None:
    split = rec.fields.get("split")
    if split is not None and split not in ("train", "validation", "test"):
        rec.problems.append(problem(rec.line, "split", "invalid_field",
                                    f"split {split!r} is not train, validation or test"))


class TokenCounter:
    """Counts tokens of whole conversations: a local tokenizer, or a labelled approximation."""

    def __init__(self, tokenizer: str | None = None) -> None:
        self.name = tokenizer
        self._tok = _load_tokenizer(tokenizer) if tokenizer else None

    @property
    def label(self) -> str:
        if self._tok is None:
            return f"approximation: {CHARS_PER_TOKEN} characters per token + {TOKENS_PER_TURN} per turn"
        return f"tokenizer {self.name}"

    def count(self, conversations: Sequence[list[dict[str, Any]]]) -> list[int]:
        if self._tok is None:
            return [sum(math.ceil(len(t["content"]) / CHARS_PER_TOKEN) + TOKENS_PER_TURN for t in conv)
                    for conv in conversations]
        texts = [self._render(conv) for conv in conversations]
        return [len(ids) for ids in self._tok(texts, add_special_tokens=False)["input_ids"]]

    def _render(self, conv: list[dict[str, Any]]) -> str:
        plain = [{"role": t["role"], "content": t["content"]} for t in conv]
        if getattr(self._tok, "chat_template", None):
            return self._tok.apply_chat_template(plain, tokenize=False)
        return "\n".join(t["content"] for t in plain)


def _load_tokenizer(name: str):
    from workbench.embedded import resolve_model_path

    path = resolve_model_path(name)
    if not Path(path).exists():
        raise WorkbenchError(f"tokenizer {name!r} not found: {path} is not a local folder",
                             hint="pass a local tokenizer folder, or 'smollm2' for the embedded model's tokenizer")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds
        raise WorkbenchError(f"tokenizer {name!r} could not be loaded from {path}: {exc}",
                             hint="the folder needs tokenizer.json or tokenizer_config.json") from exc


def check_lengths(records: list[Record], turns: list[list[dict[str, Any]]], counter: TokenCounter, limit: int) -> None:
    """Add ``too_long`` to the records whose conversation exceeds ``limit`` tokens (one batch)."""
    for rec, n in zip(records, counter.count(turns)):
        if n > limit:
            rec.problems.append(problem(rec.line, "messages", "too_long",
                                        f"{n} tokens > limit {limit} ({counter.label})"))


class Ids:
    """Gives every record a unique id: its own, or one derived from its content."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.derived: dict[str, int] = {}

    def derive(self, rec: Record) -> str:
        """A deterministic id from the record's content and how often that content occurred before."""
        payload = rec.raw if isinstance(rec.raw, str) else json.dumps(rec.raw, sort_keys=True, default=str)
        base = "row-" + hashlib.blake2b(payload.encode("utf-8", "replace"), digest_size=6).hexdigest()
        n = self.derived.get(base, 0) + 1
        self.derived[base] = n
        return base if n == 1 else f"{base}-{n}"

    def claim(self, rec: Record) -> str | None:
        """The id of a valid record; None (and a ``duplicate_id`` error) for a repeated explicit id."""
        given = rec.fields.get("id")
        if given is None:
            given = self.derive(rec)
            while given in self.seen:
                given = self.derive(rec)
        elif given in self.seen:
            rec.problems.append(problem(rec.line, "id", "duplicate_id", f"id {given!r} was already used by an earlier record"))
            return None
        self.seen.add(given)
        return given

    def quarantine_id(self, rec: Record) -> str:
        """An id for the quarantine: the record's own (marked by line when taken), else a derived one."""
        given = rec.fields.get("id") if rec.fields else None
        if not isinstance(given, str):
            return self.derive(rec)
        return given if given not in self.seen else f"{given}~line{rec.line}"


def report(result, path: str | Path) -> dict[str, Any]:
    """The JSON report of ``workbench validate`` for a :class:`workbench.io.LoadResult`."""
    errors = sum(n for (code, sev), n in result.problem_counts.items() if sev == ERROR)
    warnings = sum(n for (code, sev), n in result.problem_counts.items() if sev != ERROR)
    by_code: dict[str, int] = {}
    for (code, _), n in result.problem_counts.items():
        by_code[code] = by_code.get(code, 0) + n
    return {
        "path": str(path), "format": result.format, "rows_read": result.rows_read, "rows_valid": result.table.height,
        "rows_invalid": len(result.quarantined), "errors": errors, "warnings": warnings, "by_code": by_code,
        "token_count": result.token_label, "problems": [p.to_dict() for p in result.problems],
    }
