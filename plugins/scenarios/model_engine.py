"""The model engine: scenarios written by a language model from few-shot prompts.

The same planned slots as the template engine, but the new user turn is
written by a model (embedded SmolLM2 by default, any local model folder, or
``openai:<model>`` with ``base_url``) in batches through
:func:`workbench.lm.generation.chat_model`. Optionally the model also answers
each scenario; that reference is marked ``reference_by = "model"`` in meta
(every generated row carries ``generated = true``).
"""

from __future__ import annotations

import random
import re
import string

from pydantic import Field, field_validator

from workbench.ledger import Ledger
from workbench.plugins.scenarios.prompts import DEFAULT_PERSONAS, DEFAULT_PROMPTS, PLAIN_COMPLEXITY_PROMPT
from workbench.scenarios import check_types
from workbench.scenarios.domain import Domain
from workbench.scenarios.generator import ScenarioEngine, ScenarioOptions, Tick
from workbench.scenarios.plan import NEEDS_ANSWER, Slot
from workbench.scenarios.rows import Candidate, conversation

PROMPT_FIELDS = frozenset({"request", "request_core", "intent", "answer", "request2", "request2_core", "intent2",
                           "answer2", "order_id", "amount", "product", "place", "persona"})
#: "Rewrite:", "Customer:" and similar labels small models echo before their answer
_LABEL = re.compile(r"^\s*(?:[A-Z][\w ]{0,30}:)\s*")


class ModelOptions(ScenarioOptions):
    model: str = Field(default="smollm2", description="smollm2, a local model folder, or openai:<model>")
    base_url: str | None = Field(default=None, description="Base URL of an OpenAI-compatible endpoint")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="Environment variable holding the API key")
    prompts: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_PROMPTS),
                                    description="Few-shot prompt per scenario type (missing types use the default)")
    plain_prompt: str = Field(default=PLAIN_COMPLEXITY_PROMPT,
                              description="language_complexity scenarios alternate: the plain rewrite uses this prompt, "
                                          "the nuanced one the language_complexity entry of prompts")
    personas: list[str] = Field(default_factory=lambda: list(DEFAULT_PERSONAS),
                                description="Personas drawn for {persona} in persona_tone prompts")
    write_references: bool = Field(default=True, description="Ask the model to answer each scenario (reference marked generated)")
    max_new_tokens: int = Field(default=64, ge=1, description="Tokens per written scenario")
    reference_max_new_tokens: int = Field(default=128, ge=1, description="Tokens per reference answer")
    temperature: float = Field(default=0.0, ge=0, description="0 = greedy (reproducible); higher = more varied")
    batch_size: int = Field(default=16, ge=1, description="Prompts generated together (local models)")

    @field_validator("prompts")
    @classmethod
    def _complete_prompts(cls, value: dict[str, str]) -> dict[str, str]:
        check_types(list(value))
        for scenario, text in value.items():
            _check_placeholders(scenario, text)
        return {**DEFAULT_PROMPTS, **value}

    @field_validator("plain_prompt")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        _check_placeholders("plain language_complexity", value)
        return value


def _check_placeholders(name: str, text: str) -> None:
    try:
        unknown = {n for _, n, _, _ in string.Formatter().parse(text) if n} - PROMPT_FIELDS
    except ValueError as exc:
        raise ValueError(f"prompt for {name}: malformed placeholder: {exc}") from exc
    if unknown:
        raise ValueError(f"prompt for {name} uses unknown placeholder(s) {sorted(unknown)}; known: {sorted(PROMPT_FIELDS)}")


def complexity(slot: Slot) -> str | None:
    """language_complexity slots alternate nuanced (even index) and plain (odd) phrasing; None for other types."""
    if slot.scenario != "language_complexity":
        return None
    return "plain" if slot.index % 2 else "nuanced"


class ModelScenarios(ScenarioEngine):
    name = "scenario-model"
    description = "Scenario conversations written by a language model from editable few-shot prompts"
    version = "1"
    engine = "model"
    Options = ModelOptions

    def passes(self) -> int:
        return 2 if self.options.write_references else 1

    def chat_model(self):
        from workbench.lm.generation import chat_model

        ref = self.options.model
        if ref != "smollm2" and not ref.startswith("openai:"):
            ref = str(self.resolve(ref))
        return chat_model(ref, base_url=self.options.base_url, api_key_env=self.options.api_key_env)

    def draft(self, domain: Domain, slots: list[Slot], ledger: Ledger, tick: Tick) -> list[Candidate]:
        from workbench.lm.generation import DecodeSettings

        o = self.options
        ready: list[tuple[Slot, str]] = []
        for slot in slots:
            values = {**slot.values(), "persona": random.Random(slot.seed).choice(o.personas) if o.personas else None}
            prompt = o.plain_prompt if complexity(slot) == "plain" else o.prompts[slot.scenario]
            missing = sorted(n for _, n, _, _ in string.Formatter().parse(prompt) if n and values.get(n) is None)
            if missing:
                ledger.reject(slot.source.id, "prompt needs missing values",
                              detail={"scenario": slot.scenario, "missing": missing})
                tick(self.passes())
                continue
            ready.append((slot, prompt.format_map(values)))
        if not ready:
            return []
        model = self.chat_model()
        seed = slots[0].seed
        written = model.chat([[{"role": "user", "content": p}] for _, p in ready],
                             DecodeSettings(max_new_tokens=o.max_new_tokens, temperature=o.temperature,
                                            seed=seed, batch_size=o.batch_size), on_batch=tick)
        system = domain.system_prompt()
        candidates = [_candidate(slot, prompt, clean(gen.text), slot.source.system or system, model.name)
                      for (slot, prompt), gen in zip(ready, written)]
        if o.write_references:
            answers = model.chat([c.messages for c in candidates],
                                 DecodeSettings(max_new_tokens=o.reference_max_new_tokens, temperature=o.temperature,
                                                seed=seed, batch_size=o.batch_size), on_batch=tick)
            for cand, gen in zip(candidates, answers):
                cand.reference = gen.text.strip() or None
                cand.meta["reference_by"] = "model" if cand.reference else None
        return candidates


def _candidate(slot: Slot, prompt: str, text: str, system: str | None, model: str) -> Candidate:
    messages = conversation(system, slot.source, text, history=slot.scenario in NEEDS_ANSWER)
    meta = {"engine": "model", "model": model, "prompt": prompt, "seed": slot.seed, "reference_by": None}
    phrasing = complexity(slot)
    if phrasing:
        meta["complexity"] = phrasing
    return Candidate(slot.scenario, slot.mode, slot.source, messages, None, meta)


def clean(text: str) -> str:
    """The first non-empty line of a model's reply, without echoed labels or quotes."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return _LABEL.sub("", line, count=1).strip().strip('"').strip()
