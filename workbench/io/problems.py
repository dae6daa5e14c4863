"""Problems found while reading or validating data: one per (line, field, code).

Every code has a fixed severity and a fix hint, listed in ``CODES`` (and in
``docs/formats.md``). An ``error`` sends the record to quarantine; a
``warning`` keeps it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ERROR, WARNING = "error", "warning"

#: code -> (severity, hint)
CODES: dict[str, tuple[str, str]] = {
    # file and line level
    "invalid_json": (ERROR, "fix the JSON syntax of this line (one complete JSON object per line)"),
    "invalid_utf8": (ERROR, "re-save the file as UTF-8"),
    "invalid_csv": (ERROR, "check the quoting of this CSV record (fields with commas, quotes or newlines need \"...\")"),
    "line_too_long": (ERROR, "split the record, or check that line breaks were not lost"),
    "control_bytes": (ERROR, "remove the control bytes (NUL and other bytes below 0x20 other than tab and line breaks); "
                      "they are what a binary export or a broken copy leaves behind"),
    "bom_removed": (WARNING, "re-save the file as UTF-8 without byte-order marks; the mark was removed and the line read"),
    "blank_line": (WARNING, "remove empty lines; they are skipped"),
    # record level (OpenAI's data-preparation checks first)
    "not_object": (ERROR, "each record must be a JSON object such as {\"messages\": [...]}"),
    "missing_messages": (ERROR, "give the record a non-empty \"messages\" list of {role, content} turns"),
    "message_not_object": (ERROR, "each turn must be an object such as {\"role\": \"user\", \"content\": \"...\"}"),
    "missing_role": (ERROR, "give the turn a \"role\": system, user or assistant"),
    "missing_content": (ERROR, "give the turn its text"),
    "unrecognized_message_key": (ERROR, "a turn holds only role, content and weight; remove or rename the key"),
    "unknown_role": (ERROR, "use one of the roles system, user, assistant"),
    "content_not_string": (ERROR, "turn text must be a string"),
    "invalid_weight": (ERROR, "weight is 0 (do not train on this turn) or 1"),
    "weight_not_assistant": (ERROR, "remove the weight: OpenAI accepts it on assistant turns only"),
    "no_assistant_message": (ERROR, "add the assistant's answer; it is what the model learns"),
    "empty_content": (ERROR, "fill in the text or remove the turn"),
    "too_long": (ERROR, "shorten the conversation or raise the token limit"),
    "duplicate_id": (ERROR, "give every record its own id (or remove the id to have one derived)"),
    "invalid_field": (ERROR, "see docs/schema.md for the type of each field"),
    "consecutive_same_role": (WARNING, "merge the two turns, or add the missing turn between them"),
    "system_not_first": (WARNING, "move the system turn to the start of the conversation"),
    "unrecognized_key": (WARNING, "the key is kept in meta and written back on export; rename it if it was a typo"),
    "coerced_to_string": (WARNING, "the value was read as text; quote it in the source to silence this"),
}


@dataclass
class Problem:
    """One problem at one place: 1-based line (record number for CSV/Parquet), field path, code."""

    line: int
    field: str | None
    code: str
    message: str
    hint: str = ""
    severity: str = ERROR

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def problem(line: int, field: str | None, code: str, message: str) -> Problem:
    """A Problem whose severity and hint come from the ``CODES`` catalogue."""
    severity, hint = CODES[code]
    return Problem(line, field, code, message, hint, severity)


def is_error(problems: list[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)
