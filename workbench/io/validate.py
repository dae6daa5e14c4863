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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.io.problems import ERROR, is_error, problem
from workbench.io.records import Record
from workbench.schema import ROLES

MESSAGE_KEYS = ("role", "content", "weight")
#: characters per token of the default approximation (OpenAI's rule of thumb for English)
CHARS_PER_TOKEN = 4
#: tokens added per turn by chat templates in the approximation
TOKENS_PER_TURN = 4


def check_messages(rec: Record) -> list[dict[str, Any]] | None:
    """Check a record's turns; return them as canonical turns, or None when unusable."""
    line, messages = rec.line, rec.parsed.get("messages")
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
    split = rec.parsed.get("split")
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
        tok = self._tok
        if tok is None:
            return [sum(math.ceil(len(t["content"]) / CHARS_PER_TOKEN) + TOKENS_PER_TURN for t in conv)
                    for conv in conversations]
        texts = [_render(tok, conv) for conv in conversations]
        return [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]


def _render(tok: Any, conv: list[dict[str, Any]]) -> str:
    """A conversation as the tokenizer's chat template writes it (plain lines without a template)."""
    plain = [{"role": t["role"], "content": t["content"]} for t in conv]
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(plain, tokenize=False)
    return "\n".join(t["content"] for t in plain)


def _load_tokenizer(name: str):
    from workbench.lm.embedded import resolve_model_path

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


def derived_base(raw: bytes) -> str:
    """The id a record without one gets from its text; repeats of the text add -2, -3, ..."""
    return "row-" + hashlib.blake2b(raw, digest_size=6).hexdigest()


def raw_bytes(rec: Record) -> bytes:
    """The record's source text as hashed for a derived id (a parsed object: its sorted-key JSON)."""
    payload = rec.raw if isinstance(rec.raw, str) else json.dumps(rec.raw, sort_keys=True, default=str)
    return payload.encode("utf-8", "replace")


class Ids:
    """Gives every record a unique id: its own, or one derived from its content.

    The ids taken are remembered as 64-bit hashes in a few sorted numpy
    blocks (8 bytes a row instead of a Python string), so a file of any length
    is checked for repeated ids in bounded memory. Two different ids with one
    hash would be reported as a repeat: odds about n^2 / 2^65, 2e-5 for 30
    million rows.
    """

    def __init__(self) -> None:
        self._blocks: list = []
        self._quarantine: Ids | None = None

    def claim_batch(self, wanted: Sequence[tuple[str, bool]]) -> list[str | None]:
        """Ids for a batch of valid records in file order, from (own or derived id, whether it is the record's own).

        A repeated own id gives None (the caller reports ``duplicate_id``); a
        repeated derived id becomes ``<id>-2``, ``<id>-3``, ... (the first
        not yet taken).
        """
        import numpy as np

        hashes = np.fromiter((hash(c) for c, _ in wanted), dtype=np.int64, count=len(wanted))
        before = self._taken(hashes).tolist()
        out: list[str | None] = []
        taken: set[int] = set()
        for (candidate, own), h, seen in zip(wanted, hashes.tolist(), before):
            if seen or h in taken:
                if own:
                    out.append(None)
                    continue
                candidate, h = self._next_free(candidate, taken)
            taken.add(h)
            out.append(candidate)
        self._remember(np.fromiter(taken, dtype=np.int64, count=len(taken)))
        return out

    def _next_free(self, base: str, taken: set[int]) -> tuple[str, int]:
        import numpy as np

        n = 2
        while True:
            candidate = f"{base}-{n}"
            h = hash(candidate)
            if h not in taken and not self._taken(np.array([h], dtype=np.int64))[0]:
                return candidate, h
            n += 1

    def _taken(self, hashes):
        import numpy as np

        found = np.zeros(len(hashes), dtype=bool)
        for block in self._blocks:
            at = np.minimum(np.searchsorted(block, hashes), len(block) - 1)
            found |= block[at] == hashes
        return found

    def _remember(self, hashes) -> None:
        """Add a sorted block; merge neighbours of similar size, so there are about log2(rows / batch) blocks."""
        import numpy as np

        if not len(hashes):
            return
        self._blocks.append(np.sort(hashes))
        while len(self._blocks) > 1 and len(self._blocks[-2]) <= 2 * len(self._blocks[-1]):
            last = self._blocks.pop()
            self._blocks[-1] = np.sort(np.concatenate([self._blocks[-1], last]))

    def is_taken(self, row_id: str) -> bool:
        import numpy as np

        return bool(self._taken(np.array([hash(row_id)], dtype=np.int64))[0])

    def quarantine_id(self, rec: Record) -> str:
        """An id for the quarantine: the record's own (marked by line when a row has it), else a derived one."""
        given = rec.fields.get("id") if rec.fields else None
        if isinstance(given, str):
            return given if not self.is_taken(given) else f"{given}~line{rec.line}"
        if self._quarantine is None:
            self._quarantine = Ids()
        [derived] = self._quarantine.claim_batch([(derived_base(raw_bytes(rec)), False)])
        assert derived is not None, "a derived id is never refused (a repeat gets a suffix)"
        return derived


def report(result, path: str | Path) -> dict[str, Any]:
    """The JSON report of ``workbench validate`` for a :class:`workbench.io.LoadResult`."""
    errors = sum(n for (code, sev), n in result.problem_counts.items() if sev == ERROR)
    warnings = sum(n for (code, sev), n in result.problem_counts.items() if sev != ERROR)
    by_code: dict[str, int] = {}
    for (code, _), n in result.problem_counts.items():
        by_code[code] = by_code.get(code, 0) + n
    return {
        "path": str(path), "format": result.format, "rows_read": result.rows_read, "rows_valid": result.rows_valid,
        "rows_invalid": result.rows_quarantined, "errors": errors, "warnings": warnings, "by_code": by_code,
        "token_count": result.token_label, "problems": [p.to_dict() for p in result.problems],
    }
