"""Training throughput: Workbench's loop against the naive recipe, same data, same model.

Naive: the loop many guides show (every example padded to 512 tokens,
batches of 4, ``model(**batch, labels=labels)`` so the head runs at every
position). Workbench: :func:`workbench.training.loop.train` with its
defaults (length-grouped dynamic padding, head only at assistant positions).
Both use LoRA on SmolLM2 with the same rank and learning rate, run the same
number of optimiser steps, and are scored by validation loss on the same
held-back examples. Throughput counts useful (non-padding) tokens only.

The two recipes run minutes apart, so a change in the machine's load between
them moves the ratio: ``--repeats N`` alternates them N times and keeps each
recipe's best throughput (every timing and the load average before and after
are in the report).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from workbench.runtime.machine import load_average

HELP = "train SmolLM2 with LoRA: naive padded batches vs Workbench's loop (useful tokens/s, loss, FLOPs)"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "support.jsonl"


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="smollm2", help="base model (default: the embedded SmolLM2)")
    parser.add_argument("--data", default=str(SAMPLE), help="OpenAI chat JSONL to train on")
    parser.add_argument("--steps", type=int, default=6, help="optimiser steps for each recipe")
    parser.add_argument("--naive-batch", type=int, default=4, help="naive batch size")
    parser.add_argument("--naive-length", type=int, default=512, help="naive fixed padded length")
    parser.add_argument("--batch-size", type=int, default=8, help="Workbench batch size")
    parser.add_argument("--validation", type=int, default=32, help="held-back examples scoring both runs")
    parser.add_argument("--repeats", type=int, default=1, help="runs per recipe (alternating); the best throughput counts")


def matmul_peak_flops(n: int = 1024, seconds: float = 1.0) -> float:
    """Best fp32 matmul FLOP/s over repeated n x n products (this machine's practical peak)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best, spent = 0.0, 0.0
    while spent < seconds:
        t = time.perf_counter()
        a @ b
        dt = time.perf_counter() - t
        spent += dt
        best = max(best, 2 * n ** 3 / dt)
    return best


def naive_run(opts: Any, train_ex: list, steps: int, batch: int, length: int) -> tuple[Any, float, int]:
    """The guide recipe; returns (model, seconds, useful tokens)."""
    import torch

    from workbench.training import methods
    from workbench.training.batching import collate, plan_batches
    from workbench.training.loop import load_base

    model, tok = load_base(opts)
    torch.manual_seed(0)
    model = methods.prepare_model(model, opts)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=opts.learning_rate)
    batches = plan_batches([len(e.input_ids) for e in train_ex], batch, "random", 0, 0)
    model(**collate([train_ex[i] for i in batches[-1]], tok.pad_token_id, pad_to=length)).loss.backward()
    optimizer.zero_grad()  # an untimed warm-up pass, as Workbench's pre-flight probe is untimed
    seconds, tokens = 0.0, 0
    for step in range(steps):
        data = collate([train_ex[i] for i in batches[step % len(batches)]], tok.pad_token_id, pad_to=length)
        t = time.perf_counter()
        loss = model(**data).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        seconds += time.perf_counter() - t
        tokens += int(data["attention_mask"].sum())
    return model, seconds, tokens


def validation_loss(model: Any, examples: list, pad_id: int) -> float:
    import torch

    from workbench.training.batching import collate
    from workbench.training.loop import loss_module

    wrapped = loss_module(model).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), 8):
            loss, n = wrapped(**collate(examples[start:start + 8], pad_id))
            total, count = total + float(loss), count + int(n)
    return total / max(count, 1)


def run(args) -> dict[str, Any]:
    import tempfile

    import torch

    from workbench.lm.device import free_cores
    from workbench.training.chat import build_examples
    from workbench.training.data import read_chat_jsonl, split_rows
    from workbench.training.loop import TrainJob, load_base, train
    from workbench.training.options import CausalLMOptions

    threads = free_cores()  # fixed for both recipes, so neither gets more cores
    torch.set_num_threads(threads)
    rows, _ = read_chat_jsonl(args.data)
    train_rows, val_rows = split_rows(rows, args.validation / len(rows), seed=0)
    common = {"model": args.model, "checkpoint_every": 0, "warmup_steps": 0, "scheduler": "constant",
              "max_grad_norm": 0.0, "max_steps": args.steps, "threads": threads,
              "freeze_layers": 0}  # every layer trains in both: the benchmark measures the loop, not the freezing
    naive_opts = CausalLMOptions(**common, batch_size=args.naive_batch, max_length=args.naive_length,
                                 warmup_probe_steps=0)
    _, tok = load_base(naive_opts)
    train_ex, _ = build_examples(tok, train_rows, args.naive_length)
    val_ex, _ = build_examples(tok, val_rows, args.naive_length)
    wb_opts = CausalLMOptions(**common, batch_size=args.batch_size, warmup_probe_steps=1)
    load_before = load_average()
    peak = matmul_peak_flops()

    naive_all, wb_all = [], []
    for repeat in range(max(1, args.repeats)):
        naive_model, naive_s, naive_tokens = naive_run(naive_opts, train_ex, args.steps, args.naive_batch,
                                                       args.naive_length)
        naive_all.append(naive_tokens / naive_s)
        if repeat == 0:  # same seed, data and steps every time: the loss is scored once
            naive_loss = validation_loss(naive_model, val_ex, tok.pad_token_id)
            params = sum(p.numel() for n, p in naive_model.named_parameters() if "lora_" not in n)
        del naive_model
        with tempfile.TemporaryDirectory(prefix="wb-bench-") as out:
            result = train(TrainJob(wb_opts, train_rows, [], Path(out), log=lambda _m: None, save_model=False))
        wb_all.append(result.stats["tokens_per_second"])
        if repeat == 0:
            wb_loss = validation_loss(result.model, val_ex, tok.pad_token_id)
        del result
    peak = max(peak, matmul_peak_flops())  # the machine's load drifts: keep the better of two measurements
    naive_tps, wb_tps = max(naive_all), max(wb_all)
    flops_per_token = 4 * params  # LoRA: forward 2N + backward through activations 2N (frozen weights get no grads)
    return {
        "model": args.model, "steps": args.steps, "threads": threads,
        "naive": {"batch_size": args.naive_batch, "padded_to": args.naive_length, "examples_seen": args.steps * args.naive_batch},
        "workbench": {"batch_size": args.batch_size, "batching": wb_opts.batching, "examples_seen": args.steps * args.batch_size},
        "naive_tokens_per_second": round(naive_tps, 1),
        "workbench_tokens_per_second": round(wb_tps, 1),
        "speedup": round(wb_tps / naive_tps, 2),
        "naive_final_loss": round(naive_loss, 4),
        "workbench_final_loss": round(wb_loss, 4),
        "final_loss_is": f"validation loss on the same {len(val_ex)} held-back examples (assistant tokens)",
        "matmul_peak_flops": round(peak),
        "achieved_flops": round(wb_tps * flops_per_token),
        "flops_fraction_of_peak": round(wb_tps * flops_per_token / peak, 3),
        "naive_flops_fraction_of_peak": round(naive_tps * flops_per_token / peak, 3),
        "flops_per_token_convention": "4N (LoRA: forward 2N + backward 2N through frozen weights; N = all weights, "
                                      "useful tokens only)",
        "parameters": params,
        "repeats": len(naive_all),
        "naive_tokens_per_second_all": [round(x, 1) for x in naive_all],
        "workbench_tokens_per_second_all": [round(x, 1) for x in wb_all],
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
