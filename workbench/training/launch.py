"""Train from a chat JSONL file outside a run: ``python -m workbench.training.launch``.

This is the entry point for ``accelerate launch`` (DDP/FSDP on several GPUs or
nodes) and for the resume-after-kill test::

    accelerate launch --num_processes 2 --cpu -m workbench.training.launch \\
        data.jsonl out/ --options '{"model": "smollm2", "epochs": 1}'

Every process writes ``result-rank<N>.json`` (its stats and a hash of its final
weights, which must agree across processes); the main process writes the model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any


def weights_digest(state: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        h.update(name.encode())
        h.update(tensor.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.training.launch", description=__doc__.splitlines()[0])
    parser.add_argument("data", help="OpenAI chat JSONL file")
    parser.add_argument("out", help="output folder (checkpoints, model, logs); re-running resumes")
    parser.add_argument("--options", default="{}", help="hf-causal-lm options as JSON")
    parser.add_argument("--validation", type=float, default=0.1, help="share of rows held back for validation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from workbench.training.data import read_chat_jsonl, split_rows
    from workbench.training.loop import TrainJob, train
    from workbench.training.options import CausalLMOptions

    rows, _ = read_chat_jsonl(args.data)
    train_rows, val_rows = split_rows(rows, args.validation, args.seed)
    options = CausalLMOptions.model_validate(json.loads(args.options))
    out = Path(args.out)
    result = train(TrainJob(options, train_rows, val_rows, out, seed=args.seed))
    from accelerate import PartialState

    rank = PartialState().process_index
    stats = {k: v for k, v in result.stats.items()}
    stats["weights_sha256"] = weights_digest(result.state_dict())
    out.mkdir(parents=True, exist_ok=True)
    (out / f"result-rank{rank}.json").write_text(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
