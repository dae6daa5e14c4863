"""OpenAI chat JSONL (``messages`` with per-turn ``weight``) and the lossless workbench-jsonl."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from workbench import schema
from workbench.io.records import Record, extension_of, turns_of
from workbench.plugins.formats.jsonbase import JsonReader, JsonWriter


class OpenAIChatReader(JsonReader):
    name = "openai-chat"
    description = "OpenAI chat fine-tuning JSONL: {messages: [{role, content, weight?}], ...}"
    signature: ClassVar[tuple[str, ...]] = ("messages",)
    own_keys = ("messages",)
    fast_path = True

    def convert(self, obj: dict[str, Any], rec: Record) -> None:
        rec.parsed["messages"] = obj.get("messages")

    def detect(self, sample: Any) -> float:
        score = super().detect(sample)
        # no complete record in the sample (e.g. one huge line): fall back on the extension
        return score if score or sample.records else (0.1 if sample.suffix in self.extensions else 0.0)


class OpenAIChatWriter(JsonWriter):
    name = "openai-chat"
    description = "OpenAI chat JSONL (a JSON array for .json); extension fields as top-level keys"
    extensions = (".jsonl", ".json")

    def to_object(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"messages": turns_of(row), **extension_of(row)}


class WorkbenchJsonlReader(OpenAIChatReader):
    name = "workbench-jsonl"
    description = "Workbench's lossless JSONL: every canonical column, extra columns kept as columns"
    signature = schema.COLUMNS
    keep_columns: ClassVar[bool] = True
    fast_path = False  # extra keys become columns: the per-line path keeps them

    def detect(self, sample: Any) -> float:
        return JsonReader.detect(self, sample) * (0.95 / 0.9)


class WorkbenchJsonlWriter(JsonWriter):
    name = "workbench-jsonl"
    description = "Workbench's lossless JSONL: every column of the table, nulls included"

    def to_object(self, row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        out["messages"] = [dict(m) for m in row.get("messages") or []]
        if row.get("meta"):
            out["meta"] = _json_object_or_text(row["meta"])
        return out


def _json_object_or_text(text: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, dict) else text
