"""Scenario template files: TOML or JSON data a user can extend.

A file holds ``scenario`` (a type name) and ``[[templates]]`` entries
(``id``, ``user``, optional ``reference`` and ``history``), and may add word
``pools`` and ``synonyms`` groups. Built-in files live in ``templates/``; a
user folder is read after them, its templates replace built-ins with the same
id and its pools and synonyms extend the built-in ones. See docs/scenarios.md.
"""

from __future__ import annotations

import json
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.scenarios import EXPECTED_BEHAVIOR

BUILTIN_DIR = Path(__file__).parent / "templates"
#: placeholders every slot offers (see workbench.scenarios.plan.Slot.values)
SLOT_FIELDS = frozenset({"request", "request_core", "intent", "answer", "request2", "request2_core", "intent2",
                         "answer2", "order_id", "amount", "product", "place", "request_reworded"})
TEMPLATE_KEYS = frozenset({"id", "user", "reference", "history"})


@dataclass(frozen=True)
class Template:
    id: str
    scenario: str
    user: str
    reference: str | None = None
    #: replay the source exchange (user request, assistant answer) before the new user turn
    history: bool = False

    @property
    def fields(self) -> frozenset[str]:
        """Placeholders the template needs values for."""
        texts = [self.user] + ([self.reference] if self.reference else [])
        return frozenset(name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name)


@dataclass
class TemplateSet:
    templates: dict[str, Template] = field(default_factory=dict)
    pools: dict[str, list[str]] = field(default_factory=dict)
    synonyms: list[list[str]] = field(default_factory=list)

    def for_type(self, scenario: str) -> list[Template]:
        return [t for t in self.templates.values() if t.scenario == scenario]


def load_templates(folders: list[Path]) -> TemplateSet:
    """Read every ``*.toml`` / ``*.json`` file of the folders, in order."""
    out = TemplateSet()
    for folder in folders:
        if not folder.is_dir():
            raise WorkbenchError(f"template folder {folder} does not exist",
                                 hint="set template_dir to a folder of .toml or .json template files")
        for path in sorted(p for p in folder.iterdir() if p.suffix in (".toml", ".json")):
            _merge(out, path, _read(path))
    _check_fields(out)
    return out


def _read(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WorkbenchError(f"template file {path} cannot be parsed: {exc}") from exc
    if not isinstance(data, dict):
        raise WorkbenchError(f"template file {path} must hold an object/table at the top level")
    return data


def _scenario_of(path: Path, data: dict) -> str:
    """The file's scenario type: one of the known types, which its templates need."""
    scenario = data.get("scenario")
    if scenario not in EXPECTED_BEHAVIOR:
        raise WorkbenchError(f"template file {path}: scenario {scenario!r} is not a known type",
                             hint=f"known types: {', '.join(EXPECTED_BEHAVIOR)}")
    return scenario


def _merge(out: TemplateSet, path: Path, data: dict) -> None:
    entries = data.get("templates", [])
    scenario = _scenario_of(path, data) if entries else ""
    for entry in entries:
        where = f"template file {path}, template {entry.get('id', '?')!r}"
        unknown = set(entry) - TEMPLATE_KEYS
        if unknown or not isinstance(entry.get("id"), str) or not isinstance(entry.get("user"), str) \
                or not entry["user"].strip():
            raise WorkbenchError(f"{where}: needs a string id and a non-empty user text"
                                 + (f"; unknown keys {sorted(unknown)}" if unknown else ""),
                                 hint=f"allowed keys: {', '.join(sorted(TEMPLATE_KEYS))}")
        out.templates[entry["id"]] = Template(entry["id"], scenario, entry["user"], entry.get("reference"),
                                              bool(entry.get("history", False)))
    for name, values in data.get("pools", {}).items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise WorkbenchError(f"template file {path}: pool {name!r} must be a list of strings")
        out.pools[name] = list(dict.fromkeys(out.pools.get(name, []) + values))
    for group in data.get("synonyms", []):
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(v, str) for v in group):
            raise WorkbenchError(f"template file {path}: each synonyms group must list two or more strings")
        out.synonyms.append(group)


def _check_fields(out: TemplateSet) -> None:
    known = SLOT_FIELDS | set(out.pools)
    for t in out.templates.values():
        try:
            unknown = t.fields - known
        except ValueError as exc:
            raise WorkbenchError(f"template {t.id!r}: malformed placeholder: {exc}") from exc
        if unknown:
            raise WorkbenchError(f"template {t.id!r} uses unknown placeholder(s) {sorted(unknown)}",
                                 hint=f"known: {', '.join(sorted(known))}")
