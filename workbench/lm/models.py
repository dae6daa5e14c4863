"""Loading causal language models the same way everywhere.

Training, generation, paraphrasing and evaluation all load models through
``load_causal_lm`` so they agree on tokenizer set-up (pad token, padding side)
and device/precision. A model reference is ``smollm2`` (the embedded model),
a local transformers folder, a folder holding a peft adapter (its base model is
loaded first), a ``.gguf`` file, or a hub id where the hub is reachable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.lm.embedded import resolve_model_path


def load_tokenizer(name_or_path: str, *, padding_side: str = "right") -> Any:
    from transformers import AutoTokenizer

    path = resolve_model_path(name_or_path)
    p = Path(path)
    if p.suffix == ".gguf":
        tok = AutoTokenizer.from_pretrained(p.parent, gguf_file=p.name)
        eos = _gguf_eos_token_id(p)
        if eos is not None:  # transformers 4.57 gives GPT-2-style GGUF tokenizers the BOS token as EOS
            tok.eos_token = tok.convert_ids_to_tokens(eos)
    else:
        adapter = _adapter_base(p)
        tok = AutoTokenizer.from_pretrained(p if (p / "tokenizer_config.json").exists() or not adapter else adapter)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = padding_side
    return tok


def _gguf_eos_token_id(path: Path) -> int | None:
    """The end-of-sequence token id a .gguf file declares."""
    from gguf import GGUFReader

    field = GGUFReader(str(path)).fields.get("tokenizer.ggml.eos_token_id")
    return int(field.parts[field.data[0]][0]) if field is not None else None


def _adapter_base(folder: Path) -> str | None:
    cfg = folder / "adapter_config.json"
    if cfg.exists():
        return resolve_model_path(json.loads(cfg.read_text())["base_model_name_or_path"])
    return None


def load_causal_lm(name_or_path: str = "smollm2", *, device: str = "auto", padding_side: str = "left",
                   dtype: Any = None) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` on the chosen device, in eval mode.

    ``padding_side`` defaults to left, which batched generation needs.
    """
    from transformers import AutoModelForCausalLM

    from workbench.lm.device import pick_device

    path = resolve_model_path(name_or_path)
    p = Path(path)
    dev, auto_dtype = pick_device(device)
    dtype = dtype or auto_dtype
    if not p.exists() and path.count("/") > 1:  # a hub id has one slash; more is a missing local path
        raise WorkbenchError(f"model {name_or_path!r} not found", hint="give a local folder, a .gguf file or 'smollm2'")
    try:
        if p.suffix == ".gguf":
            model = AutoModelForCausalLM.from_pretrained(p.parent, gguf_file=p.name, dtype=dtype)
        elif (base := _adapter_base(p)) is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=dtype), p)
        else:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except OSError as exc:
        raise WorkbenchError(f"could not load model {name_or_path!r}: {exc}".splitlines()[0],
                             hint="no model hub is reachable here: use a local folder, a .gguf file or 'smollm2'") from exc
    tokenizer = load_tokenizer(name_or_path, padding_side=padding_side)
    model.to(dev).eval()
    return model, tokenizer
