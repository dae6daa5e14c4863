"""What a step's component gets besides the table: folders, seed, progress.

Components write artifacts under ``ctx.step_dir`` (the engine moves the folder
into place atomically when the step finishes), read earlier steps' artifacts
through ``ctx.artifact``, report progress through ``ctx.progress`` (a tqdm bar
in the terminal, ``progress.json`` and its history ``progress.jsonl`` for the UI) and read secrets through
``ctx.secret``, which never writes them anywhere.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError


class Progress:
    """A progress bar that also writes ``progress.json`` for other processes."""

    def __init__(self, total: int | None, desc: str, file: Path | None, show: bool) -> None:
        self.total, self.desc, self.file, self.n = total, desc, file, 0
        self.info: dict[str, Any] = {}
        self._bar = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True, leave=False)
        self._started = time.monotonic()
        self._last_write = 0.0

    def update(self, n: int = 1, **info: Any) -> None:
        self.n += n
        self.info.update(info)
        if self._bar is not None:
            self._bar.update(n)
            if info:
                self._bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in info.items()})
        now = time.monotonic()
        if self.file is not None and (now - self._last_write > 0.5 or (self.total and self.n >= self.total)):
            self._last_write = now
            self.write()

    def write(self, state: str = "running") -> None:
        if self.file is None:
            return
        elapsed = time.monotonic() - self._started
        eta = (elapsed / self.n * (self.total - self.n)) if self.total and self.n else None
        payload = {"desc": self.desc, "n": self.n, "total": self.total, "elapsed": elapsed,
                   "eta": eta, "state": state, "info": self.info, "time": time.time()}
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, default=str))
        os.replace(tmp, self.file)
        # history for live charts (the UI re-attaches to a run and redraws its loss curve)
        with open(self.file.with_suffix(".jsonl"), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(payload, default=str) + "\n")

    def close(self) -> None:
        self.write("done")
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass
class StepContext:
    """Per-step environment handed to a component's ``run``."""

    step_dir: Path
    run_dir: Path | None = None
    step_name: str = "step"
    seed: int = 0
    #: artifacts of earlier steps: "train.model" -> absolute path or id
    artifacts: dict[str, str] = field(default_factory=dict)
    show_progress: bool = False
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr))
    #: set by the UI to request a clean stop; long loops check ``ctx.cancelled()``
    cancel_file: Path | None = None
    #: folder that relative paths in options are resolved against (the run file's)
    base_dir: Path = field(default_factory=Path.cwd)

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """An option's path, relative to the run file's folder unless absolute."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def progress(self, total: int | None, desc: str) -> Progress:
        self.step_dir.mkdir(parents=True, exist_ok=True)
        return Progress(total, desc, self.step_dir / "progress.json", self.show_progress)

    def artifact(self, name: str) -> str:
        try:
            return self.artifacts[name]
        except KeyError:
            known = ", ".join(sorted(self.artifacts)) or "none"
            raise WorkbenchError(f"step {self.step_name} needs artifact {name!r}, which no earlier step produced "
                                 f"(available: {known})", hint="add the step that produces it earlier in the run file") from None

    def cancelled(self) -> bool:
        return self.cancel_file is not None and self.cancel_file.exists()

    @staticmethod
    def secret(name: str) -> str | None:
        """A secret from the environment (the UI passes a session's key to its job process that way); never stored."""
        return os.environ.get(name)


def scratch_context(folder: str | os.PathLike[str] | None = None, seed: int = 0) -> StepContext:
    """A context outside any run (previews, benchmarks, tests)."""
    import tempfile

    path = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="workbench-"))
    return StepContext(step_dir=path, seed=seed)
