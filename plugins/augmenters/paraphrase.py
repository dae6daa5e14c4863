"""Paraphrase a turn with a chat model: embedded SmolLM2, a local folder, or openai:<model>.

Generation goes through :func:`workbench.lm.generation.chat_model`, so local
models decode in length-sorted batches (``decode.batch_size``) and an
OpenAI-compatible endpoint takes ``base_url`` and the API key's environment
variable. Each variant samples with its own seed; the answer's first
non-empty line, without quotes or a "Paraphrase:" label, is the candidate.
The shared filters then reject drifted, identical or code-losing rewrites.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from workbench.lm.generation import DecodeSettings

from .base import TextAugmenter, TextAugmentOptions

DEFAULT_PROMPT = ("Rewrite the customer's message below in different words. Keep its meaning, every name, number "
                  "and code exactly. Reply with the rewritten message only.\n\nMessage: {text}")
_LABEL = re.compile(r"^(?:rewritten message|paraphrase|message|rewrite)\s*:\s*", re.I)


class ParaphraseOptions(TextAugmentOptions):
    model: str = Field(default="smollm2", description="smollm2, a local model folder, or openai:<model>")
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for openai:<model>")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="Environment variable holding the API key")
    system_prompt: str | None = Field(default=None, description="Optional system message")
    prompt: str = Field(default=DEFAULT_PROMPT, description="User message; {text} is the turn to paraphrase")
    decode: DecodeSettings = Field(default_factory=lambda: DecodeSettings(temperature=0.7, top_p=0.9, max_new_tokens=96),
                                   description="Decoding settings (seed is offset by the variant number)")


class Paraphrase(TextAugmenter):
    name = "paraphrase"
    description = "Rewrite turns with a language model (SmolLM2 by default), batched"
    Options = ParaphraseOptions

    def propose(self, texts: list[str], seeds: list[str], variant: int, ctx: Any) -> list[str]:
        from workbench.lm.embedded import resolve_model_path
        from workbench.lm.generation import chat_model

        o = self.options
        if "{text}" not in o.prompt:
            from workbench.errors import WorkbenchError

            raise WorkbenchError("paraphrase prompt has no {text} placeholder", hint='e.g. prompt = "Rewrite: {text}"')
        ref = o.model if o.model.startswith("openai:") else resolve_model_path(o.model)
        if not o.model.startswith("openai:") and o.model != "smollm2":
            ref = str(ctx.resolve(o.model))
        model = chat_model(ref, base_url=o.base_url, api_key_env=o.api_key_env)
        system = [{"role": "system", "content": o.system_prompt}] if o.system_prompt else []
        conversations = [system + [{"role": "user", "content": o.prompt.replace("{text}", t)}] for t in texts]
        settings = o.decode.model_copy(update={"seed": o.decode.seed + ctx.seed + variant})
        return [clean(g.text) or t for g, t in zip(model.chat(conversations, settings), texts)]


def clean(answer: str) -> str:
    """First non-empty line, without a label or surrounding quotes."""
    line = next((ln.strip() for ln in answer.splitlines() if ln.strip()), "")
    return _LABEL.sub("", line).strip().strip('"“”\'').strip()
