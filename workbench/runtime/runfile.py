"""The run file: one TOML file describing an ordered list of steps.

```toml
[run]
name = "support-demo"     # the run folder's name under the runs folder
seed = 13

[[steps]]
kind = "load"             # load, clean, augment, scenarios, split, train, evaluate, report, ...
component = "load"        # optional: each kind has a default component
options = { path = "sample_data/support.jsonl" }
```

Relative paths inside options are resolved against the run file's folder by
the components (``ctx.resolve``). See ``docs/runs.md``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.errors import WorkbenchError

#: step kind -> registry family it draws components from
KIND_FAMILY = {"clean": "cleaner", "augment": "augmenter", "scenarios": "scenario", "train": "trainer"}
#: a step kind may also be spelled as its family's registry kind; run files keep the canonical spelling
KIND_ALIASES = {family: kind for kind, family in KIND_FAMILY.items()}
#: step kind -> component used when the run file names none
DEFAULT_COMPONENT = {"load": "load", "split": "split", "train": "hf-causal-lm", "evaluate": "evaluate",
                     "report": "report"}


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="What the step does: load, clean, augment, scenarios, split, train, evaluate, report")
    component: str | None = Field(default=None, description="Registered component name (default per kind)")
    options: dict[str, Any] = Field(default_factory=dict, description="Options of the component")
    label: str | None = Field(default=None, description="Optional display name of the step")

    @field_validator("kind")
    @classmethod
    def _canonical_kind(cls, kind: str) -> str:
        return KIND_ALIASES.get(kind, kind)

    @property
    def family(self) -> str:
        return KIND_FAMILY.get(self.kind, "step")

    @property
    def component_name(self) -> str:
        name = self.component or DEFAULT_COMPONENT.get(self.kind)
        if not name:
            raise WorkbenchError(f"step of kind {self.kind!r} names no component",
                                 hint='add component = "<name>" to the step')
        return name


class RunSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Run folder name")
    seed: int = Field(default=0, description="Seed handed to every step")
    description: str = ""


class RunFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: RunSpec
    steps: list[StepSpec]
    #: folder relative paths in options are resolved against (not serialised)
    base_dir: Path = Field(default=Path("."), exclude=True)

    def to_toml(self) -> str:
        return dumps_toml(self.model_dump(exclude_none=True))


def load_runfile(path: str | Path) -> RunFile:
    path = Path(path)
    return parse_runfile(read_toml(path), base_dir=path.resolve().parent, source=str(path))


def read_toml(path: Path, what: str = "run file") -> dict[str, Any]:
    """The TOML document at ``path``; a clear error when it is missing or not TOML."""
    if not path.is_file():
        raise WorkbenchError(f"{what} {path} not found", hint=f"pass the path of a .toml {what}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WorkbenchError(f"{what} {path} is not valid TOML: {exc}") from exc


def parse_runfile(data: dict[str, Any], *, base_dir: Path = Path("."), source: str = "run file") -> RunFile:
    try:
        rf = RunFile.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorkbenchError(f"{source}: {where}: {first['msg']}", hint="see docs/runs.md for the run file format") from exc
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", rf.run.name):
        raise WorkbenchError(f"{source}: run.name {rf.run.name!r} must be letters, digits, '.', '_' or '-'")
    return rf


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    if isinstance(value, Path):
        return _toml_value(str(value))
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _key(k: str) -> str:
    import json

    return k if re.match(r"^[A-Za-z0-9_\-]+$", k) else json.dumps(k)


def dumps_toml(data: dict[str, Any]) -> str:
    """Write a run file dict as TOML (tables and arrays of tables, inline options)."""
    lines: list[str] = []
    for section, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{section}]")
            lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None]
            lines.append("")
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for item in value:
                lines.append(f"[[{section}]]")
                lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in item.items() if v is not None]
                lines.append("")
        else:
            lines.insert(0, f"{_key(section)} = {_toml_value(value)}")
    return "\n".join(lines)
