"""The evaluation harness: every model answers the same prompts, every metric scores them.

Models are chat models from :func:`workbench.lm.generation.chat_model` (local
folders, adapters, ``smollm2``, ``openai:<model>``), all with the same
decoding settings; answers come from the runs folder's generation cache when present.
The first model is the base every other model is compared with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from workbench.evaluation import compare
from workbench.evaluation.cache import GenerationCache, generate_cached
from workbench.evaluation.correctness import fluent_but_wrong
from workbench.evaluation.examples import question_text
from workbench.evaluation.forgetting import forgetting_summary, load_probes, probe_prompts, probe_settings, score_probes
from workbench.evaluation.result import MetricResult
from workbench.lm.generation import DecodeSettings


@dataclass
class EvalConfig:
    models: dict[str, str]  # display name -> model reference; the first is the base
    metrics: list[Any]  # Metric instances
    settings: DecodeSettings = field(default_factory=DecodeSettings)
    resamples: int = 1000
    trials: int = 2000
    seed: int = 0
    primary_metric: str = "chrf"
    top_k: int = 5
    forgetting: bool = True
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    #: training examples (built like the evaluated ones) for metrics with ``fit`` (e.g. off_topic)
    train: pl.DataFrame | None = None
    #: display name -> answers saved elsewhere (``answers:<file>`` models), read instead of generated
    saved: dict[str, Any] = field(default_factory=dict)


def _pairwise(metric: Any) -> bool:
    return "prediction_b" in metric.requires


def _missing_columns(metric: Any, frame: pl.DataFrame) -> list[str]:
    return [c for c in metric.requires if c not in frame.columns]


def generate_all(config: EvalConfig, prompts: list[list[dict]], cache: GenerationCache,
                 progress: Callable[[int, str], Any] | None = None, settings: DecodeSettings | None = None
                 ) -> tuple[dict[str, list], dict[str, dict]]:
    """Answers of every model (cached), and per model how many were generated vs cached and hit the token limit."""
    from workbench.lm.generation import chat_model

    settings = settings or config.settings
    answers, counts = {}, {}
    for name, ref in config.models.items():
        if name in config.saved:
            answers[name] = config.saved[name].answers(prompts)
            counts[name] = {"generated": 0, "cached": 0, "saved": len(prompts), "hit_max_new_tokens": 0}
            continue
        # local models: one torch thread per free core (oversubscribed threads stall each other)
        model = chat_model(ref, base_url=config.base_url, api_key_env=config.api_key_env, threads=0)
        bar = progress(len(prompts), f"answers of {name}") if progress else None
        gens, fresh = generate_cached(model, prompts, settings, cache, on_batch=bar.update if bar else None)
        if bar:
            bar.close()
        answers[name] = gens
        counts[name] = {"generated": fresh, "cached": len(prompts) - fresh,
                        "hit_max_new_tokens": sum(bool(g.hit_max_new_tokens) for g in gens)}
    return answers, counts


def model_frame(examples: pl.DataFrame, ref: str, gens: list) -> pl.DataFrame:
    return examples.with_columns(
        pl.Series("prediction", [g.text for g in gens], dtype=pl.Utf8),
        pl.Series("latency_s", [g.latency_s for g in gens], dtype=pl.Float64),
        pl.Series("new_tokens", [g.new_tokens for g in gens], dtype=pl.Int64),
        pl.lit(ref).alias("model"),
    )


def score_model(metrics: list[Any], frame: pl.DataFrame) -> dict[str, MetricResult]:
    from workbench.evaluation.result import skipped

    out = {}
    for metric in metrics:
        if _pairwise(metric):
            continue
        missing = _missing_columns(metric, frame)
        out[metric.name] = (skipped(metric.name, f"missing columns: {', '.join(missing)}") if missing
                            else metric.compute(frame))
    return out


def fit_metrics(metrics: list[Any], train: pl.DataFrame | None) -> None:
    """Metrics that learn from the training rows (``fit(train)``) see them before scoring; without rows they skip."""
    if train is None or train.height == 0:
        return
    for metric in metrics:
        if callable(getattr(metric, "fit", None)):
            metric.fit(train)


def evaluate(examples: pl.DataFrame, config: EvalConfig, cache_dir: Path,
             progress: Callable[[int, str], Any] | None = None, log: Callable[[str], None] = lambda m: None,
             legacy_cache_dirs: Sequence[Path] = ()) -> tuple[dict[str, Any], pl.DataFrame]:
    """Run the whole evaluation; returns (results as JSON-able dict, per-example frame of every model).

    ``cache_dir``: the generation cache (shared by the runs of a runs folder);
    ``legacy_cache_dirs``: older caches still read (see :mod:`workbench.evaluation.cache`).
    """
    if examples.height == 0:
        from workbench.errors import WorkbenchError

        raise WorkbenchError("no examples to evaluate", hint="check the splits option and that rows have an assistant answer")
    cache = GenerationCache(cache_dir, legacy_cache_dirs)
    prompts = [json.loads(p) for p in examples["prompt"]]
    answers, counts = generate_all(config, prompts, cache, progress)
    frames = {name: model_frame(examples, config.models[name], answers[name]) for name in config.models}
    fit_metrics(config.metrics, config.train)
    scores = {}
    for name, frame in frames.items():
        log(f"scoring {name}")
        scores[name] = score_model(config.metrics, frame)
    base = next(iter(config.models))
    results: dict[str, Any] = {
        "base": base, "models": config.models, "n_examples": examples.height,
        "decode": config.settings.model_dump(), "seed": config.seed, "bootstrap_resamples": config.resamples,
        "ar_trials": config.trials, "primary_metric": config.primary_metric, "generation": counts,
        "metrics": {m.name: {"description": m.description, "version": m.version} for m in config.metrics},
        "scores": {n: {k: _summary(r) for k, r in s.items()} for n, s in scores.items()},
        "comparisons": {}, "slices": {}, "top_examples": {},
    }
    results["fluent_but_wrong"] = {}
    primary = _primary(config.primary_metric, scores[base])
    for name in list(config.models)[1:]:
        wrong = fluent_but_wrong(examples, frames[name]["prediction"].to_list(), scores[name], primary)
        if wrong is not None:
            results["fluent_but_wrong"][name] = wrong
        results["comparisons"][name] = _compare(config, scores[base], scores[name], frames[base], frames[name])
        if primary:
            results["slices"][name] = compare.slices(examples, scores[base][primary], scores[name][primary])
            results["top_examples"][name] = compare.top_examples(
                examples, frames[base]["prediction"].to_list(), frames[name]["prediction"].to_list(),
                scores[base][primary], scores[name][primary], config.top_k) | {"metric": primary}
    results["samples"] = [
        {"id": examples["id"][i], "question": question_text(examples["prompt"][i]), "reference": examples["reference"][i],
         "answers": {name: frames[name]["prediction"][i] for name in frames}}
        for i in range(min(config.top_k, examples.height))]
    if config.forgetting:
        results["forgetting"] = _forgetting(config, cache, progress)
    return results, _per_example_frame(frames, scores)


def _summary(r: MetricResult) -> dict[str, Any]:
    """A metric result without its per-example list (that lives in the examples table)."""
    d = r.to_dict()
    d.pop("per_example")
    return d


def _primary(wanted: str, base_scores: dict[str, MetricResult]) -> str | None:
    """The primary metric for slices and top examples: the wanted one, else the first per-example one."""
    usable = [n for n, r in base_scores.items() if r.per_example and r.higher_is_better is not None and not r.skipped]
    return wanted if wanted in usable else (usable[0] if usable else None)


def _compare(config: EvalConfig, base: dict[str, MetricResult], other: dict[str, MetricResult],
             base_frame: pl.DataFrame, other_frame: pl.DataFrame) -> dict[str, Any]:
    from workbench.evaluation import significance as sig

    out = {}
    for metric in config.metrics:
        if _pairwise(metric):
            pair = base_frame.with_columns(pl.Series("prediction_a", base_frame["prediction"]),
                                           pl.Series("prediction_b", other_frame["prediction"]))
            r = metric.compute(pair)
            prefs = [p for p in (r.per_example or []) if p is not None]
            c = sig.mean_bootstrap([0.5] * len(prefs), prefs, config.resamples, config.seed) if prefs else None
            out[metric.name] = (c.to_dict() if c else {"skipped": "no readable verdict"}) | {
                "higher_is_better": True, "details": r.details, "signature": r.signature,
                "win_tie_loss": {"wins": sum(p > 0.5 for p in prefs), "ties": sum(p == 0.5 for p in prefs),
                                 "losses": sum(p < 0.5 for p in prefs)}}
            continue
        out[metric.name] = compare.compare_metric(metric, base[metric.name], other[metric.name], base_frame,
                                                  other_frame, config.resamples, config.trials, config.seed)
    return out


def _forgetting(config: EvalConfig, cache: GenerationCache, progress: Callable[[int, str], Any] | None) -> dict[str, Any]:
    probes = load_probes()
    answers, counts = generate_all(config, probe_prompts(probes), cache, progress, probe_settings(config.settings))
    per_model = {name: score_probes(probes, [g.text for g in gens]) for name, gens in answers.items()}
    return forgetting_summary(per_model, next(iter(config.models)), resamples=config.resamples,
                              seed=config.seed) | {"generation": counts}


def _per_example_frame(frames: dict[str, pl.DataFrame], scores: dict[str, dict[str, MetricResult]]) -> pl.DataFrame:
    parts = []
    for name, frame in frames.items():
        cols = [pl.Series(f"score_{m}", r.per_example, dtype=pl.Float64)
                for m, r in scores[name].items() if r.per_example is not None]
        parts.append(frame.with_columns(pl.lit(name).alias("model_name"), *cols))
    return pl.concat(parts, how="diagonal_relaxed")
