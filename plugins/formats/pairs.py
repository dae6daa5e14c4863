"""One-exchange formats: prompt/completion, prompt/response and Alpaca (instruction/input/output).

Each holds an optional ``system`` prompt, one user turn and one assistant
turn; the canonical extension fields (id, label, ...) ride along as top-level
keys. Writing a multi-turn row to one of them is a clear error.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from workbench.io.problems import problem
from workbench.io.records import Record, extension_of
from workbench.plugins.formats.jsonbase import JsonReader, JsonWriter, single_exchange

#: meta key that remembers Alpaca's ``input`` so a round trip writes it back as its own field
ALPACA_INPUT = "_alpaca_input"


class PairReader(JsonReader):
    """Builds [system?, user, assistant] from a prompt key and an answer key."""

    prompt_key: ClassVar[str] = "prompt"
    answer_key: ClassVar[str] = "response"

    def convert(self, obj: dict[str, Any], rec: Record) -> None:
        turns, paths = [], []
        if obj.get("system") is not None:
            turns.append({"role": "system", "content": obj["system"]})
            paths.append("system")
        turns += [{"role": "user", "content": self.prompt_of(obj, rec)},
                  {"role": "assistant", "content": obj.get(self.answer_key)}]
        paths += [self.prompt_key, self.answer_key]
        rec.parsed["messages"], rec.paths = turns, paths

    def prompt_of(self, obj: dict[str, Any], rec: Record) -> Any:
        return obj.get(self.prompt_key)


class PairWriter(JsonWriter):
    prompt_key: ClassVar[str] = "prompt"
    answer_key: ClassVar[str] = "response"

    def to_object(self, row: dict[str, Any]) -> dict[str, Any]:
        system, user, assistant = single_exchange(row, self.name)
        out = {"system": system} if system is not None else {}
        return {**out, self.prompt_key: user, self.answer_key: assistant, **extension_of(row)}


class PromptCompletionReader(PairReader):
    name = "prompt-completion"
    description = "Prompt/completion JSONL (OpenAI legacy): {prompt, completion, system?}"
    signature = ("prompt", "completion")
    own_keys = ("prompt", "completion", "system")
    answer_key = "completion"


class PromptCompletionWriter(PairWriter):
    name = "prompt-completion"
    description = "Prompt/completion JSONL: {prompt, completion, system?}"
    answer_key = "completion"


class PromptResponseReader(PairReader):
    name = "prompt-response"
    description = "Prompt/response JSONL or JSON array: {prompt, response, system?}"
    signature = ("prompt", "response")
    own_keys = ("prompt", "response", "system")


class PromptResponseWriter(PairWriter):
    name = "prompt-response"
    description = "Prompt/response JSONL (a JSON array for .json): {prompt, response, system?}"


class AlpacaReader(PairReader):
    name = "alpaca"
    description = "Alpaca JSON array or JSONL: {instruction, input, output, system?}"
    signature = ("instruction", "output")
    own_keys = ("instruction", "input", "output", "system")
    prompt_key, answer_key = "instruction", "output"

    def prompt_of(self, obj: dict[str, Any], rec: Record) -> Any:
        """The instruction, followed by the input (when there is one) after a blank line."""
        instruction, extra = obj.get("instruction"), obj.get("input")
        if extra in (None, "") or not isinstance(instruction, str):
            return instruction  # a bad instruction is reported by the turn checks
        if not isinstance(extra, str):
            rec.problems.append(problem(rec.line, "input", "content_not_string",
                                        f"input is a {type(extra).__name__}, not a string"))
            return instruction
        meta = rec.parsed.get("meta")
        rec.parsed["meta"] = {**(meta if isinstance(meta, dict) else {}), ALPACA_INPUT: extra}
        return f"{instruction}\n\n{extra}"


class AlpacaWriter(PairWriter):
    name = "alpaca"
    description = "Alpaca JSON array (.json) or JSONL: {instruction, input, output, system?}"

    def to_object(self, row: dict[str, Any]) -> dict[str, Any]:
        system, user, assistant = single_exchange(row, self.name)
        meta = json.loads(row["meta"]) if row.get("meta") else {}
        extra = meta.pop(ALPACA_INPUT, None)
        if extra and user.endswith(f"\n\n{extra}"):
            instruction, given = user[: -len(extra) - 2], extra
        else:
            instruction, given = user, ""
        head = {"system": system} if system is not None else {}
        return {**head, "instruction": instruction, "input": given, "output": assistant,
                **extension_of({**row, "meta": json.dumps(meta) if meta else None})}
