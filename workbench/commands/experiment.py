"""``workbench experiment FILE``: run every variant of an experiment file and write its comparison report."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("experiment", help="run every variant of an experiment file (ablations, data fractions, "
                                          "seeds) and compare them in one report")
    p.add_argument("file", help="path of the TOML experiment file (docs/experiments.md)")
    p.add_argument("--runs-dir", help="folder that holds run folders (default: $WORKBENCH_RUNS or ./runs)")
    p.add_argument("--force", action="store_true", help="re-run every step of every variant")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the comparison")
    p.add_argument("--preflight", action="store_true", help="only estimate: run the data steps, measure the "
                                                             "trainer's warm-up, print rows, steps and time per run")
    p.add_argument("--json", action="store_true", help="print the per-variant results as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.experiment.compare import build_comparison
    from workbench.experiment.executor import experiment_dir, run_experiment
    from workbench.experiment.report import write_experiment_report
    from workbench.experiment.spec import load_experiment

    exp = load_experiment(args.file)
    if args.preflight:
        return preflight(exp, args)

    def on_start(run, i, n) -> None:
        if not args.json:
            print(f"[{i + 1}/{n}] {run.label} -> {run.runfile.run.name}", file=sys.stderr)

    def on_variant(done) -> None:
        if not args.json:
            print(f"      {done.run.label}: {done.run_seconds:.1f}s, reused {len(done.reused_steps)} step(s)",
                  file=sys.stderr)

    outcomes = run_experiment(exp, runs_dir=args.runs_dir, force=args.force, show_progress=not args.json,
                              on_variant=on_variant, on_start=on_start)
    comparison = build_comparison(exp, args.runs_dir, resamples=args.resamples, trials=args.resamples)
    this_call = {o.run.label: o for o in outcomes}
    for v in comparison["variants"]:  # steps reused by this invocation (a resumed run reuses its own finished steps)
        v["reused_steps"] = this_call[v["label"]].reused_steps
        v["run_seconds"] = this_call[v["label"]].run_seconds
    paths = write_experiment_report(comparison, experiment_dir(exp, args.runs_dir))
    if args.json:
        keys = ("name", "seed", "run", "train_rows", "seconds", "run_seconds", "scores", "vs_reference", "reused_steps",
                "verdict")
        print(json.dumps({"experiment": exp.name, "reference": comparison["reference"],
                          "variants": [{k: v[k] for k in keys} for v in comparison["variants"]],
                          "seeds": comparison["seeds"],
                          "learning_curves": [c["reading"] for c in comparison["learning_curves"]],
                          "report": {k: str(p) for k, p in paths.items()}}, indent=2, default=str))
        return 0
    from workbench.report import fmt

    primary = comparison["primary_metric"]
    for v in comparison["variants"]:
        d = v["vs_reference"].get(primary, {})
        versus = (f"  vs {comparison['reference']}: {fmt.num(d['difference'])} {fmt.ci(d)} p={fmt.num(d.get('p_value'))}"
                  if d.get("difference") is not None else "")
        verdict = f"  ship verdict: {v['verdict']['status']}" if v.get("verdict") else ""
        print(f"{v['label']:<28} train rows {v['train_rows']}  {primary} {fmt.num(v['scores'].get(primary))}{versus}"
              f"{verdict}")
    for curve in comparison["learning_curves"]:
        print(curve["reading"])
    for fmt_, path in paths.items():
        print(f"{fmt_:<5} {path}")
    return 0


def preflight(exp, args) -> int:
    from workbench.experiment.preflight import experiment_preflight

    figures = experiment_preflight(exp, args.runs_dir)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for r in figures["runs"]:
        eta = f"~{r['expected_seconds'] / 60:.1f} min" if r.get("expected_seconds") else "not measured"
        print(f"{r['label']:<28} train rows {r.get('train_rows')}  optimiser steps {r.get('optimizer_steps', '-')}  "
              f"training {eta}")
    total = figures["training_seconds"]
    print(f"total training: {'~%.1f min' % (total / 60) if total else 'not measured'} ({figures['note']})")
    return 0
