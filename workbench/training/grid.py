"""Grid search: every combination of a few options trains as its own sub-run.

Trials live in ``trials/NN-<values>/`` inside the step folder (each with its
checkpoints, so a killed grid resumes trial by trial); ``grid.json`` lists them
sorted by validation loss, and the best trial's model is copied to ``model/``.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from dataclasses import replace
from typing import Any

from workbench.errors import WorkbenchError


def combinations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = sorted(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def trial_name(index: int, values: dict[str, Any]) -> str:
    label = "-".join(f"{k}={v}" for k, v in values.items())
    return f"{index:02d}-" + re.sub(r"[^A-Za-z0-9_.=\-]+", "_", label)[:80]


def run_grid(job: Any) -> dict[str, Any]:
    """Train every trial of ``job.options.grid``; return stats with the sorted results table."""
    from workbench.training.loop import train

    if not job.val_rows:
        raise WorkbenchError("grid search ranks trials by validation loss, but the table has no validation rows",
                             hint="give the split step a validation share")
    base = job.options.model_dump()
    results = []
    for index, values in enumerate(combinations(job.options.grid), start=1):
        folder = job.out_dir / "trials" / trial_name(index, values)
        done = folder / "result.json"
        if done.exists():
            results.append(json.loads(done.read_text()))
            continue
        options = type(job.options).model_validate({**base, **values, "grid": {}})
        job.log(f"grid: trial {index}: {values}")
        stats = train(replace(job, options=options, out_dir=folder)).stats
        row = {"trial": folder.name, **values, "val_loss": stats["best_val_loss"],
               "final_train_loss": stats["final_train_loss"], "steps": stats["steps"]}
        done.write_text(json.dumps(row))
        results.append(row)
    results.sort(key=lambda r: (r["val_loss"] is None, r["val_loss"]))
    (job.out_dir / "grid.json").write_text(json.dumps(results, indent=1))
    best = job.out_dir / "trials" / results[0]["trial"]
    shutil.rmtree(job.out_dir / "model", ignore_errors=True)
    shutil.copytree(best / "model", job.out_dir / "model")
    shutil.rmtree(job.out_dir / "tensorboard", ignore_errors=True)
    shutil.copytree(best / "tensorboard", job.out_dir / "tensorboard")
    return {"grid": results, "best_trial": results[0]["trial"], "best_val_loss": results[0]["val_loss"],
            "trials": len(results)}
