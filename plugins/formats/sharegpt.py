"""ShareGPT: ``{"conversations": [{"from": "human"|"gpt"|"system", "value": ...}], "system"?: ...}``."""

from __future__ import annotations

from typing import Any

from workbench.io.records import Record, extension_of
from workbench.plugins.formats.jsonbase import JsonReader, JsonWriter

#: ShareGPT speaker names -> canonical roles (others are reported as unknown roles)
SPEAKERS = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
            "model": "assistant", "bot": "assistant", "system": "system"}
ROLE_TO_SPEAKER = {"user": "human", "assistant": "gpt", "system": "system"}


class ShareGPTReader(JsonReader):
    name = "sharegpt"
    description = "ShareGPT JSON array or JSONL: {conversations: [{from, value, weight?}], system?}"
    signature = ("conversations",)
    own_keys = ("conversations", "system")

    def convert(self, obj: dict[str, Any], rec: Record) -> None:
        conv = obj.get("conversations")
        rec.turn_keys = {"role": "from", "content": "value"}
        if not isinstance(conv, list):
            rec.parsed["messages"] = conv
            return
        turns = [_turn(t) for t in conv]
        paths = [f"conversations[{i}]" for i in range(len(conv))]
        if obj.get("system") is not None:
            turns.insert(0, {"role": "system", "content": obj["system"]})
            paths.insert(0, "system")
        rec.parsed["messages"], rec.paths = turns, paths


def _turn(t: Any) -> Any:
    if not isinstance(t, dict):
        return t
    out = {k: v for k, v in t.items() if k not in ("from", "value")}
    if "from" in t:
        out["role"] = SPEAKERS.get(t["from"], t["from"]) if isinstance(t["from"], str) else t["from"]
    if "value" in t:
        out["content"] = t["value"]
    return out


class ShareGPTWriter(JsonWriter):
    name = "sharegpt"
    description = "ShareGPT JSONL (a JSON array for .json): system turns stay inside conversations"

    def to_object(self, row: dict[str, Any]) -> dict[str, Any]:
        conv = [{"from": ROLE_TO_SPEAKER[m["role"]], "value": m["content"],
                 **({"weight": m["weight"]} if m.get("weight") is not None else {})} for m in row["messages"]]
        return {"conversations": conv, **extension_of(row)}
