"""Chat generation with one interface for local and OpenAI-compatible models.

Everything that asks a model to answer (paraphrasing, model-written
scenarios, evaluation) uses :func:`chat_model`, so base and tuned models see
the same prompts, chat template and decoding settings. Local generation is
batched: prompts are sorted by length, left-padded and decoded together with
the KV cache (on a CPU with the prefill and cache of
:mod:`workbench.lm.batched_decoding`); outputs come back in the caller's order.

Model references: ``smollm2``, a local folder (full model or peft adapter), a
``.gguf`` file, or ``openai:<model>`` for an OpenAI-compatible endpoint
(``base_url`` and the API key's environment variable are settings).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from workbench.lm.device import free_cores

# transformers samples from torch's global generator: two sampled decodes in parallel threads (a server's
# testers, two models side by side) would draw from each other's seeded stream, so they take turns
_SEEDED_SAMPLING = threading.Lock()

Messages = list[dict[str, Any]]


class DecodeSettings(BaseModel):
    """Decoding settings shared by every model kind (greedy by default)."""

    max_new_tokens: int = Field(default=128, ge=1, description="Maximum tokens to generate per answer")
    temperature: float = Field(default=0.0, ge=0, description="0 means greedy decoding")
    top_p: float = Field(default=1.0, gt=0, le=1, description="Nucleus sampling mass (sampling only)")
    seed: int = Field(default=0, description="Seed for sampling")
    batch_size: int = Field(default=16, ge=1, description="Prompts generated together (local models)")
    max_batch_tokens: int = Field(default=8192, ge=1, description="Padded prompt tokens per batch at most (local models): "
                                  "long prompts go in smaller batches, a prompt longer than this alone")


def batches(order: Sequence[int], lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Consecutive groups of ``order`` (longest first) of at most ``batch_size`` rows and ``max_tokens`` padded tokens."""
    out: list[list[int]] = []
    for i in order:
        if out and len(out[-1]) < batch_size and (len(out[-1]) + 1) * max(lengths[j] for j in out[-1] + [i]) <= max_tokens:
            out[-1].append(i)
        else:
            out.append([i])
    return out


@dataclass
class Generation:
    text: str
    latency_s: float
    new_tokens: int = 0
    #: stopped by ``max_new_tokens`` rather than by an end-of-turn token (None: not recorded, older cache entries)
    hit_max_new_tokens: bool | None = None


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (None: leave the setting alone)."""
    if not threads:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class LocalChatModel:
    """A transformers causal LM answering chat prompts in batches.

    ``threads``: torch threads while generating on the CPU (None: torch's
    setting; 0: :func:`free_cores` at each call).
    """

    ref: str
    device: str = "auto"
    _loaded: tuple[Any, Any] | None = field(default=None, repr=False)
    threads: int | None = None

    @property
    def name(self) -> str:
        return self.ref

    def _model(self) -> tuple[Any, Any]:
        if self._loaded is None:
            from workbench.lm.batched_decoding import use_grouped_attention
            from workbench.lm.models import load_causal_lm

            model, tok = load_causal_lm(self.ref, device=self.device, padding_side="left")
            if next(model.parameters()).device.type == "cpu":
                transpose_linear_weights(model)
            use_grouped_attention(model)
            self._loaded = (model, tok)
        return self._loaded

    def prompt_ids(self, conversation: Messages) -> list[int]:
        """Token ids of the prompt: the model's chat template plus the assistant header."""
        _, tok = self._model()
        msgs = [{"role": m["role"], "content": m["content"]} for m in conversation]
        return tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)

    def chat(self, conversations: Sequence[Messages], settings: DecodeSettings | None = None,
             on_batch: Callable[[int], None] | None = None) -> list[Generation]:
        with torch_threads(self.cpu_threads()):
            return self._chat(conversations, settings or DecodeSettings(), on_batch)

    def cpu_threads(self) -> int | None:
        """Torch threads for the next generation on the CPU (see ``threads``); None on a GPU or to leave it alone."""
        model, _ = self._model()
        on_cpu = next(model.parameters()).device.type == "cpu"
        return (self.threads or free_cores()) if on_cpu and self.threads is not None else None

    def stop_ids(self) -> list[int]:
        """Token ids that end an answer; see :func:`stop_token_ids`."""
        model, tok = self._model()
        return stop_token_ids(tok, getattr(model, "generation_config", None))

    def generate_rows(self, rows: Sequence[Sequence[int]], settings: DecodeSettings, **generate: Any) -> Any:
        """Decode the prompt ids ``rows`` together, left-padded: the answers' token ids (batch x new tokens).

        ``generate`` goes to ``model.generate`` (a streamer, stopping criteria); ``settings.batch_size`` is not read.
        """
        import torch

        from workbench.lm.batched_decoding import prefilled_cache

        model, tok = self._model()
        device = next(model.parameters()).device
        batch = tok.pad({"input_ids": [list(r) for r in rows]}, padding=True, return_tensors="pt").to(device)
        sample = settings.temperature > 0
        with _SEEDED_SAMPLING if sample else nullcontext(), torch.inference_mode():
            if sample:
                torch.manual_seed(settings.seed)
            # on a CPU, prefilling each prompt unpadded beats computing the padding (a GPU does it in parallel)
            unpadded = len(rows) > 1 and device.type == "cpu"
            cache = prefilled_cache(model, rows, settings.max_new_tokens) if unpadded else None
            out = model.generate(
                **batch, past_key_values=cache, max_new_tokens=settings.max_new_tokens, do_sample=sample,
                temperature=settings.temperature if sample else None, top_p=settings.top_p if sample else None,
                top_k=None, pad_token_id=tok.pad_token_id, eos_token_id=self.stop_ids(), **generate,
            )
        return out[:, batch["input_ids"].shape[1]:]

    def _chat(self, conversations: Sequence[Messages], settings: DecodeSettings,
              on_batch: Callable[[int], None] | None) -> list[Generation]:
        _, tok = self._model()
        stops = self.stop_ids()
        prompts = [self.prompt_ids(c) for c in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        results: list[Generation | None] = [None] * len(prompts)
        for idx in batches(order, [len(p) for p in prompts], settings.batch_size, settings.max_batch_tokens):
            t0 = time.perf_counter()
            new = self.generate_rows([prompts[i] for i in idx], settings)
            elapsed = time.perf_counter() - t0
            for row, i in enumerate(idx):
                ids = new[row].tolist()
                end = next((at for at, t in enumerate(ids) if t in stops), None)
                ids = ids[:end]  # generate pads a finished row until the batch ends: cut at its own stop token
                results[i] = Generation(tok.decode(ids, skip_special_tokens=True).strip(), elapsed / len(idx), len(ids),
                                        hit_max_new_tokens=end is None)
            if on_batch:
                on_batch(len(idx))
        return [r for r in results if r is not None]


def stop_token_ids(tok: Any, generation_config: Any = None) -> list[int]:
    """Every token that ends an answer: the tokenizer's EOS, the ids the model's
    ``generation_config.eos_token_id`` lists, and the end-of-turn token its chat
    template writes after an assistant message (``<|im_end|>``, ``<|eot_id|>``,
    ``<end_of_turn>``), which some models do not declare as EOS.
    """
    ids: list[int] = []
    declared = getattr(generation_config, "eos_token_id", None)
    for t in [tok.eos_token_id, *(declared if isinstance(declared, list) else [declared])]:
        if t is not None and t not in ids:
            ids.append(int(t))
    end_of_turn = _end_of_turn_id(tok)
    if end_of_turn is not None and end_of_turn not in ids:
        ids.append(end_of_turn)
    return ids


def _end_of_turn_id(tok: Any) -> int | None:
    """The special token the chat template puts right after an assistant message, if any."""
    from jinja2.exceptions import TemplateError

    marker = "\u2063answer\u2063"  # invisible separators: text no template writes itself
    try:
        text = tok.apply_chat_template([{"role": "user", "content": "q"}, {"role": "assistant", "content": marker}],
                                       tokenize=False)
    except (ValueError, TemplateError):  # no chat template, or one that rejects this conversation
        return None
    after = text.split(marker, 1)[1] if marker in text else ""
    ids = tok.encode(after, add_special_tokens=False) if after.strip() else []
    special = set(tok.all_special_ids) | {i for i, t in getattr(tok, "added_tokens_decoder", {}).items() if t.special}
    return ids[0] if ids and ids[0] in special else None


def transpose_linear_weights(model: Any) -> None:
    """Store each Linear weight column-major (same values, same shape).

    On CPU, MKL multiplies a small batch of rows (a decode step of a batch of
    prompts) by a weight kept in that layout several times faster than by the
    default row-major weight; measured 130 us against 630 us for 16 x 576 by
    576 x 1536. Inference only: the values and the module API are unchanged.
    """
    import torch

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.data = module.weight.data.t().contiguous().t()


@dataclass
class OpenAIChatModel:
    """An OpenAI-compatible chat endpoint through the official SDK."""

    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 60.0
    max_retries: int = 3

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    def _client(self) -> Any:
        from openai import OpenAI

        from workbench.context import StepContext
        from workbench.errors import WorkbenchError

        key = StepContext.secret(self.api_key_env)
        if not key:
            raise WorkbenchError(f"no API key: environment variable {self.api_key_env} is not set",
                                 hint=f"export {self.api_key_env}=... or enter the key in the UI session")
        return OpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=self.max_retries)

    def chat(self, conversations: Sequence[Messages], settings: DecodeSettings | None = None,
             on_batch: Callable[[int], None] | None = None) -> list[Generation]:
        settings = settings or DecodeSettings()
        client = self._client()
        out = []
        for conv in conversations:
            t0 = time.perf_counter()
            resp = client.chat.completions.create(
                model=self.model, messages=[{"role": m["role"], "content": m["content"]} for m in conv],
                max_tokens=settings.max_new_tokens, temperature=settings.temperature, top_p=settings.top_p,
                seed=settings.seed,
            )
            choice = resp.choices[0]
            tokens = resp.usage.completion_tokens if resp.usage else 0
            out.append(Generation((choice.message.content or "").strip(), time.perf_counter() - t0, tokens,
                                  hit_max_new_tokens=choice.finish_reason == "length"))
            if on_batch:
                on_batch(1)
        return out


def chat_model(ref: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
               device: str = "auto", threads: int | None = None) -> LocalChatModel | OpenAIChatModel:
    """Build a chat model from a reference (see module docstring); ``threads`` as in :class:`LocalChatModel`."""
    if ref.startswith("openai:"):
        return OpenAIChatModel(ref.split(":", 1)[1], base_url=base_url, api_key_env=api_key_env)
    return LocalChatModel(ref, device=device, threads=threads)
