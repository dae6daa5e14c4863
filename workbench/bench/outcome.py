"""The outcome of the demo pipeline with default options: did fine-tuning help, and at what cost?

Runs ``sample_data/demo.toml``, which is what ``workbench demo`` runs, from
nothing in a scratch runs folder (no reused steps, no shared generation
cache): curate, split, scenarios, augment, train with the trainer's default
options (the demo names only model and method), evaluate base vs tuned
(answers may be as long as the longest reference plus a quarter), report. Then reads
the run's own records: chrF and the facts check with their paired p-values,
off-topic answers, the forgetting probe, the epochs the size rule chose,
where early stopping stopped, timings and threads.

Unlike the other benchmarks this one has no baseline recipe: the base model
is the baseline, and the figures are the product's headline on the demo data.
``--data`` and ``--model`` run the same pipeline on another folder holding
``support.jsonl`` and ``heldout.jsonl``, or another base model (the test uses
a tiny one).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from workbench.runtime.machine import load_average

HELP = "the demo pipeline with default train/evaluate options from nothing: chrF, facts, off-topic, forgetting, time"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
DATA_FILES = ("support.jsonl", "heldout.jsonl")


def add_arguments(parser) -> None:
    parser.add_argument("--data", default=str(SAMPLE),
                        help="folder with support.jsonl (training) and heldout.jsonl (held out); default sample_data/")
    parser.add_argument("--model", default="smollm2", help="base model to tune and compare with (default: SmolLM2)")
    parser.add_argument("--runs-dir", help="keep the run in this folder (default: a scratch folder, removed after)")
    parser.add_argument("--max-new-tokens", type=int, help="cap on answer tokens in evaluation (default: the demo's)")


def outcome_runfile(data: Path, model: str, max_new_tokens: int | None = None) -> Any:
    """The demo's run file with absolute data paths and ``model`` as the base model of training and evaluation."""
    from workbench.commands.demo import demo_runfile
    from workbench.errors import WorkbenchError
    from workbench.runtime.runfile import load_runfile

    missing = [name for name in DATA_FILES if not (data / name).is_file()]
    if missing:
        raise WorkbenchError(f"bench outcome: {data} lacks {', '.join(missing)}",
                             hint="--data needs support.jsonl (training) and heldout.jsonl (held out)")
    rf = load_runfile(demo_runfile())
    for step in rf.steps:
        if step.kind == "load":
            step.options["path"] = str((data / Path(step.options["path"]).name).resolve())
        elif step.kind == "train":
            step.options = {**step.options, "model": model}
        elif step.kind == "evaluate":
            step.options = {**step.options, "base_model": model}
            if max_new_tokens:
                step.options["decode"] = {**step.options.get("decode", {}), "max_new_tokens": max_new_tokens}
    rf.run.name = "outcome"
    return rf


def _get(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...`` or None where a key is missing (metrics that did not run)."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _step(outcome: Any, kind: str) -> Any:
    return next(s for s in outcome.steps if s.manifest.get("kind") == kind)


def figures(results: dict[str, Any], train_stats: dict[str, Any]) -> dict[str, Any]:
    """The headline figures from an evaluate step's results and a train step's stats."""
    forgetting = results.get("forgetting") or {}
    base, tuned = results.get("base", "base"), "tuned"
    base_probe = _get(forgetting, "models", base, "pass_rate", "all")
    off_topic = _get(results, "scores", tuned, "off_topic", "details", "off_topic")
    return {
        "base_chrf": _get(results, "scores", base, "chrf", "score"),
        "tuned_chrf": _get(results, "scores", tuned, "chrf", "score"),
        "chrf_p_value": _get(results, "comparisons", tuned, "chrf", "p_value"),
        "base_facts_correct": _get(results, "scores", base, "facts", "score"),
        "tuned_facts_correct": _get(results, "scores", tuned, "facts", "score"),
        "facts_p_value": _get(results, "comparisons", tuned, "facts", "p_value"),
        "off_topic_answers": off_topic,
        "base_probe_pass_rate": base_probe,
        "tuned_probe_pass_rate": _get(forgetting, "models", tuned, "pass_rate", "all"),
        "forgetting_p_value": _get(forgetting, "models", tuned, "p_value"),
        "forgetting_flagged": _get(forgetting, "models", tuned, "flagged"),
        "evaluated_examples": results.get("n_examples"),
        "epochs_chosen": train_stats.get("epochs_chosen"),
        "epochs_reason": train_stats.get("epochs_reason"),
        "stopped_early_at_step": train_stats.get("stopped_early_at_step"),
        "best_step": train_stats.get("best_step"),
        "train_steps": train_stats.get("steps"),
        "train_examples": train_stats.get("train_examples"),
        "tokens_per_second": train_stats.get("tokens_per_second"),
        "threads": train_stats.get("threads"),
    }


def run(args) -> dict[str, Any]:
    from workbench.runtime import store
    from workbench.runtime.engine import execute

    rf = outcome_runfile(Path(args.data), args.model, args.max_new_tokens)
    scratch = None if args.runs_dir else Path(tempfile.mkdtemp(prefix="wb-outcome-"))
    runs_dir = Path(args.runs_dir) if args.runs_dir else scratch
    if (runs_dir / rf.run.name).exists():
        shutil.rmtree(runs_dir / rf.run.name)  # from nothing: no step reused
    load_before = load_average()
    try:
        started = time.perf_counter()
        outcome = execute(rf, runs_dir=runs_dir, show_progress=not args.json, force=True)
        total = time.perf_counter() - started
        train, evaluate = _step(outcome, "train"), _step(outcome, "evaluate")
        results = store.read_json(evaluate.folder / "results.json")
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return {
        "data": str(Path(args.data).resolve()), "model": args.model,
        **figures(results, train.manifest["stats"]),
        "evaluate_threads": evaluate.manifest["stats"].get("threads"),
        "train_seconds": round(train.manifest["seconds"], 1),
        "evaluate_seconds": round(evaluate.manifest["seconds"], 1),
        "total_seconds": round(total, 1),
        "run_dir": None if scratch else str(outcome.run_dir),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
