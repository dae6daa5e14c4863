"""The ``evaluate`` step: base vs tuned (and more) on held-out and scenario rows."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from pydantic import Field

from workbench.components import Options, Step, form
from workbench.context import StepContext
from workbench.ledger import StepResult
from workbench.lm.generation import DecodeSettings

DEFAULT_METRICS = ["accuracy", "f1", "bleu", "chrf", "ter", "rouge_l", "exact_match", "semantic_similarity",
                   "perplexity", "answer_length", "latency", "behavior", "facts", "off_topic"]


class EvaluateOptions(Options):
    base_model: str = Field(default="smollm2", description="Base model: smollm2, a local folder or openai:<model>")
    tuned_model: str | None = Field(default=None, description="Tuned model (default: the train step's model artifact)")
    extra_models: list[str] = Field(default_factory=list, description="More models compared with the base in the same table")
    grid_trials: bool = Field(default=False, description="Also evaluate every grid-search trial of the train step (trials/*/model)")
    splits: list[str] = Field(default=["test"], description="Splits whose rows are evaluated (\"*\": every row, any split)")
    include_scenarios: bool = Field(default=True, description="Also evaluate scenario rows (expected_behavior) not used for training")
    max_examples: int | None = Field(default=None, ge=1, description="Evaluate at most this many rows (first ones by id)")
    decode: DecodeSettings = Field(default_factory=DecodeSettings,
                                   description="Decoding settings, the same for every model (max_new_tokens unset: "
                                               "sized from the longest reference, so no answer is cut before its facts)")
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS), description="Metric names (`workbench plugins` lists them)")
    metric_options: dict[str, dict] = Field(default_factory=dict, description="Options per metric, e.g. { judge = { rubric = \"...\" } }")
    bootstrap_resamples: int = Field(default=1000, ge=10, description="Paired bootstrap resamples")
    ar_trials: int = Field(default=2000, ge=10, description="Approximate randomisation trials (BLEU, chrF, TER)")
    seed: int | None = Field(default=None, description="Seed of the significance tests (default: the run's seed)")
    primary_metric: str = Field(default="chrf", description="Metric for slices, win/tie/loss tables and top examples")
    top_examples: int = Field(default=5, ge=0, description="Biggest wins and worst regressions shown")
    forgetting_probe: bool = Field(default=True, description="Answer the general probe set to detect forgetting")
    answers: dict[str, str] = Field(default_factory=dict, description="Saved answers scored as more models: name -> "
                                    "JSONL file of id and answer (needs forgetting_probe = false)")
    bias: bool | None = Field(default=None, description="Counterfactual bias analysis (docs/bias.md): null = when probe rows are evaluated, true = required, false = off")
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for openai: models")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="Environment variable holding the API key")

    form_layout = {
        "decode": form("decoding"),
        **dict.fromkeys(("metrics", "primary_metric", "top_examples"), form("metrics")),
        **dict.fromkeys(("metric_options", "bootstrap_resamples", "ar_trials", "seed"), form("metrics", advanced=True)),
        **dict.fromkeys(("extra_models", "grid_trials", "include_scenarios", "answers", "bias", "base_url",
                         "api_key_env"), form("advanced", advanced=True)),
    }


def model_names(base: str, tuned: str | None, extra: list[str]) -> dict[str, str]:
    """Display name -> reference, base first; extra models are named by their reference.

    A grid-search trial (``.../trials/NN-values/model``) is named ``trial:NN-values``.
    """
    models = {"base": base}
    if tuned:
        models["tuned"] = tuned
    for ref in extra:
        p = Path(ref)
        name = f"trial:{p.parent.name}" if p.name == "model" and p.parent.parent.name == "trials" else (p.name or ref)
        models[name if name not in models else f"{name}-{len(models)}"] = ref
    return models


def grid_trial_models(tuned: str | None) -> list[str]:
    """Model folders of the grid-search trials next to the train step's model (``<step>/trials/*/model``)."""
    if not tuned or not Path(tuned).is_dir():
        return []
    trials = Path(tuned).parent / "trials"
    return [str(p) for p in sorted(trials.glob("*/model")) if p.is_dir()] if trials.is_dir() else []


class Evaluate(Step):
    name = "evaluate"
    description = "Generate answers with base and tuned models, score every metric, test the differences"
    Options = EvaluateOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        from workbench.errors import WorkbenchError
        from workbench.evaluation.answer_budget import answer_budget
        from workbench.evaluation.bias import analyse, check_probes
        from workbench.evaluation.cache import cache_dirs
        from workbench.evaluation.examples import build_examples, select_rows
        from workbench.evaluation.harness import EvalConfig, evaluate
        from workbench.evaluation.saved_answers import saved_models
        from workbench.lm.device import free_cores
        from workbench.runtime import store
        from workbench.runtime.discovery import get_registry

        o = self.options
        examples = build_examples(select_rows(table, o.splits, o.include_scenarios)).sort("id")
        if o.max_examples:
            examples = examples.head(o.max_examples)
        registry = get_registry()
        unknown = sorted(set(o.metric_options) - set(o.metrics))
        if unknown:
            raise WorkbenchError(f"metric_options names metrics not in metrics: {', '.join(unknown)}")
        metrics = [registry.get("metric", m)(o.metric_options.get(m, {})) for m in o.metrics]
        tuned = o.tuned_model or ctx.artifacts.get("train.model")
        extra = list(o.extra_models)
        if o.grid_trials:
            trials = grid_trial_models(tuned)
            if not trials:
                raise WorkbenchError("grid_trials is on but the tuned model has no trials/*/model next to it",
                                     hint="train with a grid (options.grid) or turn grid_trials off")
            extra += [t for t in trials if t not in extra]
        models = model_names(o.base_model, tuned, extra) | {n: f"answers:{ctx.resolve(f)}" for n, f in o.answers.items()}
        decode, budget_reason = o.decode, "set in the options"
        if "max_new_tokens" not in o.decode.model_fields_set:
            budget, budget_reason = answer_budget(examples["reference"].to_list())
            decode = o.decode.model_copy(update={"max_new_tokens": budget})
        config = EvalConfig(models, metrics, decode,
                            o.bootstrap_resamples, o.ar_trials, ctx.seed if o.seed is None else o.seed,
                            o.primary_metric, o.top_examples, o.forgetting_probe, o.base_url, o.api_key_env,
                            train=training_examples(table, examples), saved=saved_models(models, examples))
        probes = check_probes(table, examples["id"], o.bias)
        cache_dir, legacy_cache_dirs = cache_dirs(ctx.run_dir, ctx.step_dir)
        threads = free_cores()  # recorded: what local generation takes now (each model's answers re-decide)
        results, per_example = evaluate(examples, config, cache_dir, progress=ctx.progress, log=ctx.log,
                                        legacy_cache_dirs=legacy_cache_dirs)
        results["max_new_tokens_reason"] = budget_reason
        if probes is not None:
            results["bias"] = analyse(per_example, probes, results["base"], o.primary_metric, o.bootstrap_resamples, config.seed)
        ctx.step_dir.mkdir(parents=True, exist_ok=True)
        store.write_json(ctx.step_dir / "results.json", results)
        store.write_parquet(ctx.step_dir / "examples.parquet", per_example)
        return StepResult(table, stats={**_headline(results), "threads": threads},
                          artifacts={"results": "results.json", "examples": "examples.parquet"})


def training_examples(table: pl.DataFrame, evaluated: pl.DataFrame) -> pl.DataFrame:
    """Examples of the train split, never an evaluated row (``splits = ["*"]`` leaves none): what ``fit`` sees."""
    from workbench.evaluation.examples import build_examples

    if "split" not in table.columns:
        return build_examples(table.clear())
    train = table.filter((pl.col("split") == "train") & ~pl.col("id").is_in(evaluated["id"].to_list()))
    return build_examples(train)


def _headline(results: dict) -> dict:
    """Small figures for the manifest: examples, models and the primary metric per model."""
    primary = results["primary_metric"]
    return {"n_examples": results["n_examples"], "models": results["models"],
            primary: {m: s.get(primary, {}).get("score") for m, s in results["scores"].items()}}
