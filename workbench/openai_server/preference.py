"""The local server's ``method: dpo`` jobs: OpenAI's preference files, trained by the ``hf-dpo`` trainer.

A line is ``{"input": {"messages": [...]}, "preferred_output": [assistant],
"non_preferred_output": [assistant]}``; the first bad line fails the job with
``invalid_training_file`` / ``invalid_validation_file`` naming it. The pairs
become canonical preference rows (chosen answer last, ``meta.rejected``) and
go through the ``hf-dpo`` trainer (found in the registry; LoRA, merged into the
served model); ``n_epochs``, ``batch_size``, ``beta`` and the learning-rate
multiplier (x 5e-5) map to its options.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.openai_server.state import jsonl_objects

BASE_LEARNING_RATE = 5e-5


def read_pairs(content: bytes, param: str, error: Callable[[str, str, str], Exception]) -> list[dict[str, Any]]:
    """Canonical preference rows from a DPO JSONL file; ``error(code, message, param)`` for the first bad line."""
    code = "invalid_training_file" if param == "training_file" else "invalid_validation_file"
    rows = []
    for lineno, obj in jsonl_objects(content):
        try:
            messages = obj["input"]["messages"]
            chosen, rejected = obj["preferred_output"][-1], obj["non_preferred_output"][-1]
            ok = (isinstance(messages, list) and messages and all(isinstance(m.get("content"), str) for m in messages)
                  and chosen.get("role") == rejected.get("role") == "assistant"
                  and isinstance(chosen.get("content"), str) and isinstance(rejected.get("content"), str))
        except (KeyError, IndexError, TypeError, AttributeError):
            ok = False
        if not ok:
            raise error(code, f"line {lineno}: expected input.messages and one assistant message each in "
                              "preferred_output and non_preferred_output", param)
        rows.append({"id": f"line-{lineno}", "messages": [*messages, chosen], "meta": {"rejected": rejected["content"]},
                     "split": "train" if param == "training_file" else "validation"})
    if not rows:
        raise error(code, "file has no examples", param)
    return rows


def preference_tune(base_dir: Path, rows: list[dict[str, Any]], out_dir: Path, hyper: Any, beta: float,
                    log: Callable[[str], None], cancelled: Callable[[], bool]) -> dict[str, Any]:
    """Train ``rows`` with ``hf-dpo`` from ``base_dir``; the merged model ends in ``out_dir / "model"``."""
    from workbench import schema
    from workbench.context import StepContext
    from workbench.runtime.discovery import get_registry

    trainer_class: Any = get_registry().get("trainer", "hf-dpo")  # the built-in trainer, found like any plugin's

    class JobContext(StepContext):
        def cancelled(self) -> bool:
            return cancelled()

    options = trainer_class.Options(model=str(base_dir), epochs=hyper.n_epochs, batch_size=hyper.batch_size,
                                 learning_rate=BASE_LEARNING_RATE * hyper.learning_rate_multiplier, beta=beta,
                                 seed=hyper.seed, merge=True, warmup_steps=0, scheduler="linear", restore_best=False,
                                 early_stopping_patience=0, checkpoint_every=0)
    ctx = JobContext(step_dir=out_dir, seed=hyper.seed, log=log)
    return trainer_class(options).run(schema.from_rows(rows), ctx).stats
