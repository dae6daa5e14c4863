"""What ``workbench serve`` can serve: the embedded SmolLM2, a model or adapter folder, or a run's trained model."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.lm.embedded import SMOLLM2


def served_model(spec: str) -> tuple[str, str]:
    """``[NAME=]MODEL`` -> (name, reference for :class:`workbench.lm.generation.LocalChatModel`)."""
    name, _, ref = spec.rpartition("=")
    if ref == SMOLLM2:
        return name or SMOLLM2, SMOLLM2
    folder = Path(ref).expanduser()
    if (folder / "run.json").exists():
        return name or folder.name, str(_run_model(folder))
    if (folder / "config.json").exists() or (folder / "adapter_config.json").exists():
        return name or folder.name, str(folder.resolve())
    raise WorkbenchError(f"cannot serve {spec!r}: not 'smollm2', a model folder (config.json), an adapter folder "
                         "(adapter_config.json) or a run folder (run.json)",
                         hint="e.g. workbench serve smollm2 tuned=runs/my-run")


def _run_model(run_dir: Path) -> Path:
    """The model artifact of the run's last finished step that has one."""
    from workbench.runtime.store import step_dirs

    for step in reversed(step_dirs(run_dir)):
        model = json.loads((step / "manifest.json").read_text()).get("artifacts", {}).get("model")
        if model and (step / model).is_dir():
            return step / model
    raise WorkbenchError(f"run {run_dir} has no finished step with a local model artifact",
                         hint="serve a run with a finished hf-causal-lm (or hf-dpo) train step")
