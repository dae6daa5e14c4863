"""``workbench mask-audit`` and ``workbench train-estimate``: look before you train.

``mask-audit`` shows, for one example of a chat JSONL file, the exact text the
trainer feeds the model (the model's chat template) with the trained tokens
marked; ``train-estimate`` prints the pre-flight estimate of a training job.
"""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("mask-audit", help="show which tokens of an example the trainer computes the loss on")
    p.add_argument("path", help="OpenAI chat JSONL file")
    p.add_argument("--model", default="smollm2", help="model whose tokenizer and chat template are used")
    p.add_argument("--row", type=int, default=0, help="0-based index among the file's valid rows")
    p.add_argument("--max-length", type=int, default=512, help="truncation length, as in training")
    p.add_argument("--json", action="store_true", help="print one JSON object per token")
    p.set_defaults(func=mask_audit)

    q = sub.add_parser("train-estimate", help="pre-flight estimate of training on a chat JSONL file (measured warm-up)")
    q.add_argument("path", help="OpenAI chat JSONL file")
    q.add_argument("--options", default="{}", help="hf-causal-lm options as JSON, e.g. '{\"epochs\": 2}'")
    q.add_argument("--validation", type=float, default=0.1, help="share held back for validation")
    q.set_defaults(func=train_estimate)


def mask_audit(args) -> int:
    from workbench.errors import WorkbenchError
    from workbench.lm.models import load_tokenizer
    from workbench.training.chat import audit, render_audit
    from workbench.training.data import read_chat_jsonl

    rows, _ = read_chat_jsonl(args.path)
    if not 0 <= args.row < len(rows):
        raise WorkbenchError(f"--row {args.row} is out of range: {args.path} has {len(rows)} valid rows")
    tokens = audit(load_tokenizer(args.model), rows[args.row]["messages"], args.max_length)
    if args.json:
        for t in tokens:
            print(json.dumps(t, ensure_ascii=False))
        return 0
    trained = sum(t["trained"] for t in tokens)
    print(f"row {args.row} ({rows[args.row]['id']}): {len(tokens)} tokens, {trained} trained "
          f"(marked {'in green' if sys.stdout.isatty() else '[[like this]]'})\n")
    print(render_audit(tokens, color=sys.stdout.isatty()))
    return 0


def train_estimate(args) -> int:
    import tempfile
    from pathlib import Path

    from workbench.training.data import read_chat_jsonl, split_rows
    from workbench.training.loop import TrainJob, estimate
    from workbench.training.options import CausalLMOptions

    rows, _ = read_chat_jsonl(args.path)
    train_rows, val_rows = split_rows(rows, args.validation)
    options = CausalLMOptions.model_validate(json.loads(args.options))
    with tempfile.TemporaryDirectory(prefix="wb-estimate-") as out:
        figures = estimate(TrainJob(options, train_rows, val_rows, Path(out), log=lambda _m: None))
    print(json.dumps(figures, indent=1))
    return 0
