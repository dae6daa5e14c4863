"""Pre-flight of a whole experiment: training rows, optimiser steps and expected training time per run.

The data steps before each run's train step run now, through the engine and
in the run's own folder, so the experiment reuses them later. The time comes
from the local trainer's own pre-flight (:func:`workbench.training.planning.local_preflight`:
a short measured warm-up), measured once per distinct set of train options
(seeds aside) and scaled by each run's optimiser steps. Evaluation time is not
estimated: the answers to generate are counted instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.experiment.executor import link_shared_steps
from workbench.experiment.spec import Experiment
from workbench.training.preflight import rounded_seconds


def _data_prefix(rf: Any) -> tuple[Any, Any | None, Any | None]:
    """(run file of the steps before the first train step, that train step, the evaluate step)."""
    kinds = [s.kind for s in rf.steps]
    cut = kinds.index("train") if "train" in kinds else len(kinds)
    prefix = rf.model_copy(update={"steps": rf.steps[:cut]})
    evaluate = next((s for s in rf.steps if s.kind == "evaluate"), None)
    return prefix, (rf.steps[cut] if cut < len(kinds) else None), evaluate


def experiment_preflight(exp: Experiment, runs_dir: str | Path | None = None, *, measure: bool = True,
                         ctx: Any = None, on_run: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Per run: training rows, optimiser steps, expected seconds; and the total (training only)."""
    from workbench.runtime import store
    from workbench.runtime.engine import execute
    from workbench.training.grid import combinations
    from workbench.training.planning import local_estimate, local_preflight

    root = store.runs_root(runs_dir)
    runs = exp.runs()
    measured: dict[str, float | None] = {}
    out = []
    for i, run in enumerate(runs):
        if on_run:
            on_run(run.label)
        prefix, train, evaluate = _data_prefix(run.runfile)
        link_shared_steps(run, runs[:i], root)
        table = execute(prefix, runs_dir=root).table
        assert table is not None, "a finished run has its table"
        item: dict[str, Any] = {"label": run.label, "run": run.runfile.run.name}
        trials = 1
        if train is not None and train.component_name == "hf-causal-lm":
            figures = local_estimate(table, train.options)
            trials = len(combinations(train.options.get("grid") or {})) or 1
            key = json.dumps({k: v for k, v in train.options.items() if k not in ("seed", "grid")}, sort_keys=True)
            if measure and key not in measured:
                pre = local_preflight(table, train.options, ctx)
                steps = pre.get("optimizer_steps") or 0
                measured[key] = pre["expected_seconds"] / steps if pre.get("expected_seconds") and steps else None
            per_step = measured.get(key)
            item |= {"train_rows": figures["examples"], "optimizer_steps": figures["optimizer_steps"] * trials,
                     "trials": trials, "method": figures["method"],
                     "expected_seconds": rounded_seconds(per_step * figures["optimizer_steps"] * trials)
                     if per_step else None}
        if evaluate is not None:
            from workbench.evaluation.examples import select_rows

            o = evaluate.options
            rows = select_rows(table, o.get("splits", ["test"]), o.get("include_scenarios", True)).height
            item["tuned_answers"] = min(rows, o.get("max_examples") or rows) * (1 + (trials if trials > 1 else 0))
        item.setdefault("train_rows", int((table["split"] == "train").sum()) if "split" in table.columns else None)
        out.append(item)
    known = [r["expected_seconds"] for r in out if r.get("expected_seconds") is not None]
    return {"experiment": exp.name, "runs": out, "training_seconds": rounded_seconds(sum(known)) if known else None,
            "unmeasured": [r["label"] for r in out if r.get("expected_seconds") is None],
            "note": "training time only, from the trainer's measured warm-up; the evaluation generates the base "
                    "model's answers once (cached for every run) and each run's tuned_answers, not timed here"}
