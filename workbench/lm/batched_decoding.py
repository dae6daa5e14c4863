"""Faster batched decoding on the CPU: unpadded prefill, one key/value buffer, grouped attention.

Three costs dominate batched greedy decoding of a small model on a CPU, and
each has a fix here (measured with SmolLM2, 16 held-out prompts, 64 new
tokens: 14.4 s with ``generate`` on the padded batch, 7.9 s with all three):

- the padded prefill computes every padding position (about half of a batch
  whose prompts range from 70 to 200 tokens): :func:`prefilled_cache` runs each
  prompt's prefill on its own tokens and places the keys and values in one
  left-padded cache, so ``generate`` only decodes;
- ``DynamicCache`` concatenates every layer's keys and values at every step:
  :class:`PreallocatedLayer` writes into a buffer sized for the whole answer;
- with a padding mask, transformers' SDPA path repeats the key/value heads of
  grouped-query attention to the query-head count at every step (three copies
  of the cache for SmolLM2): at a decode step :func:`grouped_sdpa` folds the
  query heads of each group into query rows of their key/value head instead,
  which needs no copy.

The values computed are the same as the padded path's (same positions, same
masking); greedy outputs match one-at-a-time generation (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

ATTENTION = "grouped_sdpa"


def grouped_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0,
                 scaling: float | None = None, is_causal: bool | None = None, **kwargs: Any) -> tuple[Any, None]:
    """transformers' SDPA attention, without repeating key/value heads when a mask is given."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    batch, heads, rows, dim = query.shape
    if attention_mask is None or groups == 1 or rows != 1 or dropout or module.training:
        # prefill (many query rows) and unmasked calls: transformers' own path is as good
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    # a decode step: query heads k*groups .. k*groups+groups-1 share key/value head k, so they become the
    # query rows of that one head; the mask row of the single query applies to all of them
    folded = query.reshape(batch, key.shape[1], groups, dim)
    mask = attention_mask[:, :, :, :key.shape[-2]]
    out = torch.nn.functional.scaled_dot_product_attention(folded, key, value, attn_mask=mask, scale=scaling)
    return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None


def use_grouped_attention(model: Any) -> None:
    """Switch a loaded SDPA model to :func:`grouped_sdpa` (same results, no key/value copies)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION, grouped_sdpa)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(base.config, "_attn_implementation", None) == "sdpa":
        base.set_attn_implementation(ATTENTION)


@cache
def _preallocated_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class PreallocatedLayer(DynamicLayer):
        """A cache layer whose keys and values are views of one buffer: appending copies only the new tokens."""

        def __init__(self, keys: Any, values: Any, length: int) -> None:
            super().__init__()
            self.buffers, self.length = (keys, values), length
            self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
            self.keys, self.values = keys[:, :, :length], values[:, :, :length]

        def update(self, key_states: Any, value_states: Any, cache_kwargs: Any = None) -> tuple[Any, Any]:
            import torch

            end = self.length + key_states.shape[-2]
            keys, values = self.buffers
            if end > keys.shape[-2]:  # more tokens than reserved: grow geometrically
                def grow(b: Any) -> Any:
                    return torch.cat([b, b.new_zeros(*b.shape[:2], max(end, 2 * b.shape[2]) - b.shape[2], b.shape[3])], 2)
                keys, values = grow(keys), grow(values)
                self.buffers = (keys, values)
            keys[:, :, self.length:end] = key_states
            values[:, :, self.length:end] = value_states
            self.length = end
            self.keys, self.values = keys[:, :, :end], values[:, :, :end]
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.length

    return PreallocatedLayer


def prefilled_cache(model: Any, prompts: Sequence[Sequence[int]], new_tokens: int) -> Any | None:
    """A left-padded cache of every prompt but its last token, each prefilled on its own tokens.

    ``generate`` called with this cache and the left-padded prompts decodes
    from each prompt's last token on. None when the model's cache is not
    plain per-layer keys and values (sliding windows, other cache kinds): the
    caller then uses the padded prefill.
    """
    import torch
    from transformers.cache_utils import Cache, DynamicLayer

    width = max(len(p) for p in prompts) - 1
    device = next(model.parameters()).device
    buffers: list[tuple[Any, Any]] = []
    for row, prompt in enumerate(prompts):
        if len(prompt) < 2:
            continue
        own = _prefill(model, torch.tensor([list(prompt[:-1])], device=device))
        if any(type(layer) is not DynamicLayer for layer in own.layers):
            return None
        if not buffers:
            buffers = [tuple(layer.keys.new_zeros(len(prompts), layer.keys.shape[1], width + new_tokens + 1,
                                                  layer.keys.shape[3]) for _ in range(2)) for layer in own.layers]
        start = width - (len(prompt) - 1)
        for (keys, values), layer in zip(buffers, own.layers):
            keys[row, :, start:width] = layer.keys[0]
            values[row, :, start:width] = layer.values[0]
    if not buffers:  # every prompt is a single token: nothing to prefill
        return None
    layer_class = _preallocated_layer_class()
    return Cache(layers=[layer_class(keys, values, width) for keys, values in buffers])


def _prefill(model: Any, input_ids: Any) -> Any:
    """The prompt's keys and values in a fresh cache; only the last position's logits are asked for (unused)."""
    from transformers.cache_utils import DynamicCache

    config = getattr(model, "config", None)  # with it, sliding-window layers show as such (and are declined)
    try:
        cache = DynamicCache(config=config)
        model(input_ids=input_ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    except TypeError:  # an architecture without logits_to_keep: every position's logits, in a clean cache
        cache = DynamicCache(config=config)
        model(input_ids=input_ids, past_key_values=cache, use_cache=True)
    return cache
