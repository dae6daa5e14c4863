"""Training examples built with the model's own chat template.

Evaluation prompts a tuned model with ``tokenizer.apply_chat_template(...,
add_generation_prompt=True)``; training renders the same conversation with
the same template, so the model learns exactly the text it will see. The loss
mask keeps only assistant turns (their content and the end-of-turn token);
an assistant turn whose ``weight`` is 0 is context only, as in OpenAI's format.
Trained tokens weigh 1 in the loss unless ``weights`` says otherwise
(:mod:`workbench.training.decisions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

IGNORE = -100  # label value the loss skips


@dataclass
class Example:
    """One tokenised conversation: ids and labels (``IGNORE`` outside the loss), and the row's intent ``label``."""

    input_ids: list[int]
    labels: list[int]
    row_id: str | None = None
    truncated: bool = False
    spans: list[tuple[int, int]] = field(default_factory=list)  # trained token ranges
    label: str | None = None
    weights: list[float] | None = None  # per position, loss weight of a trained token (None: all 1)

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE for label in self.labels)

    @property
    def loss_weight(self) -> float:
        """The sum of the trained tokens' weights: what the loss's mean divides by."""
        if self.weights is None:
            return self.trained_tokens
        return sum(w for w, label in zip(self.weights, self.labels) if label != IGNORE)


def _plain(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m.get("content") or ""} for m in messages]


def trained_char_spans(tokenizer: Any, messages: Sequence[dict[str, Any]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered text and the character ranges of the assistant turns to train on.

    Each range runs from the end of the assistant header (the text the
    generation prompt ends with) to the end of the turn, end-of-turn token
    included and trailing whitespace excluded.
    """
    msgs = _plain(messages)
    full = tokenizer.apply_chat_template(msgs, tokenize=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or message.get("weight") == 0:
            continue
        start = len(tokenizer.apply_chat_template(msgs[:i], tokenize=False, add_generation_prompt=True)) if i else 0
        end = len(tokenizer.apply_chat_template(msgs[:i + 1], tokenize=False).rstrip())
        if not full.startswith(tokenizer.apply_chat_template(msgs[:i + 1], tokenize=False)):
            raise ValueError("the chat template renders a conversation prefix differently from the whole "
                             "conversation; assistant turns cannot be located")
        spans.append((start, end))
    return full, spans


def build_example(tokenizer: Any, messages: Sequence[dict[str, Any]], max_length: int,
                  row_id: str | None = None, label: str | None = None) -> Example:
    """Tokenise a conversation with the chat template and mask all but assistant turns."""
    text, char_spans = trained_char_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    labels = [IGNORE] * len(ids)
    token_spans = []
    for start, end in char_spans:
        inside = [t for t, (a, b) in enumerate(offsets) if b > start and a < end and b > a]
        for t in inside:
            labels[t] = ids[t]
        if inside:
            token_spans.append((inside[0], inside[-1] + 1))
    truncated = len(ids) > max_length
    return Example(ids[:max_length], labels[:max_length], row_id, truncated,
                   [(a, min(b, max_length)) for a, b in token_spans if a < max_length], label)


def build_examples(tokenizer: Any, rows: Sequence[dict[str, Any]], max_length: int) -> tuple[list[Example], int]:
    """Examples for rows with ``id``/``messages`` (and an optional ``label``); returns ``(examples, skipped)``.

    A row is skipped when nothing is left to train on (no assistant turn with
    a non-zero weight inside ``max_length`` tokens).
    """
    out, skipped = [], 0
    for row in rows:
        ex = build_example(tokenizer, row["messages"], max_length, row.get("id"), row.get("label"))
        if ex.trained_tokens:
            out.append(ex)
        else:
            skipped += 1
    return out, skipped


def audit(tokenizer: Any, messages: Sequence[dict[str, Any]], max_length: int = 4096) -> list[dict[str, Any]]:
    """Per token: index, id, text and whether the loss trains on it (for the mask audit)."""
    ex = build_example(tokenizer, messages, max_length)
    return [{"index": i, "id": tid, "text": tokenizer.decode([tid]), "trained": label != IGNORE}
            for i, (tid, label) in enumerate(zip(ex.input_ids, ex.labels))]


def render_audit(rows: list[dict[str, Any]], color: bool = False) -> str:
    """Human-readable audit: trained tokens in [[double brackets]] (or green)."""
    parts, inside = [], False
    for r in rows:
        if r["trained"] != inside:
            parts.append(("\x1b[42m" if r["trained"] else "\x1b[0m") if color else ("[[" if r["trained"] else "]]"))
            inside = r["trained"]
        parts.append(r["text"])
    if inside:
        parts.append("\x1b[0m" if color else "]]")
    return "".join(parts)
