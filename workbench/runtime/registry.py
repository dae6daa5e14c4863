"""The host-side registry behind the ``register`` callback of every hook.

Plugins never hold the registry: each hook receives a ``register`` callable
bound to the plugin being loaded, so the host can check the component, name the
plugin in every error and reject name clashes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

from pydantic import BaseModel

from workbench.components import FAMILIES, Component
from workbench.errors import PluginError
from workbench.runtime.runfile import KIND_FAMILY

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
OPERATION = {"reader": "read", "writer": "write", "metric": "compute"}


@dataclass(frozen=True)
class FailedPlugin:
    """A third-party plugin that failed to import: kept to name it when its components are missing."""

    name: str
    source: str  # "entrypoint" or "plugins-dir"
    path: str
    error: str  # "ModuleNotFoundError: No module named 'x'"
    traceback: str

    def message(self) -> str:
        return f"plugin {self.name!r} ({self.path}) failed to import and is not loaded: {self.error}"

    def info(self) -> dict[str, object]:
        return {"name": self.name, "version": None, "source": self.source, "path": self.path, "hooks": [],
                "components": [], "failed": True, "error": self.error}


@dataclass(frozen=True)
class Entry:
    component: type[Component]
    plugin: str
    source: str


class Registry:
    """Components by kind and name, each remembering the plugin that gave it."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {}
        #: plugins that failed to import, named when a component is not found
        self.failed_plugins: dict[str, FailedPlugin] = {}

    def register_callback(self, hook: str, plugin: str, source: str) -> Callable[[type], type]:
        return _Register(self, FAMILIES[hook], plugin, source)

    def add(self, candidate: type, *, base: type[Component], plugin: str, source: str) -> None:
        problem = _malformed(candidate, base)
        label = getattr(candidate, "__name__", repr(candidate))
        if problem:
            raise PluginError(
                f"plugin {plugin!r} ({source}) registered a malformed component {label}: {problem}",
                hint=f"see docs/plugins.md for the {base.kind} contract",
            )
        component = cast(type[Component], candidate)  # checked by _malformed
        kind_entries = self._entries.setdefault(base.kind, {})
        clash = kind_entries.get(component.name)
        if clash:
            raise PluginError(
                f"plugins {clash.plugin!r} ({clash.source}) and {plugin!r} ({source}) both register "
                f"{base.kind} {component.name!r}",
                hint="rename one component, or restrict loading with WORKBENCH_PLUGINS",
            )
        kind_entries[component.name] = Entry(component, plugin, source)

    def remove_plugin(self, plugin: str) -> None:
        for by_name in self._entries.values():
            for name in [n for n, e in by_name.items() if e.plugin == plugin]:
                del by_name[name]

    def get(self, kind: str, name: str) -> type[Component]:
        return self.entry(kind, name).component

    def entry(self, kind: str, name: str) -> Entry:
        kind = KIND_FAMILY.get(kind, kind)  # a step kind ("scenarios") names its family ("scenario")
        try:
            return self._entries[kind][name]
        except KeyError:
            known = ", ".join(sorted(self._entries.get(kind, {}))) or "none"
            message = f"no {kind} named {name!r} is registered (known: {known})"
            if self.failed_plugins:
                message += "; it may come from a plugin that failed to import: " + "; ".join(
                    f"{f.name!r} ({f.error})" for f in self.failed_plugins.values())
                hint = "fix or uninstall the failed plugin (`workbench plugins` shows its error)"
            else:
                hint = "`workbench plugins` lists what is loaded"
            raise PluginError(message, hint=hint) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries.get(KIND_FAMILY.get(kind, kind), {}))

    def entries(self, kind: str | None = None) -> Iterator[tuple[str, str, Entry]]:
        for k, by_name in sorted(self._entries.items()):
            if kind is None or k == kind:
                for name, entry in sorted(by_name.items()):
                    yield k, name, entry


@dataclass(frozen=True)
class _Register:
    """The ``register`` a hook receives: bound to one plugin, named in pluggy's trace."""

    registry: Registry
    base: type[Component]
    plugin: str
    source: str

    def __call__(self, component: type) -> type:
        self.registry.add(component, base=self.base, plugin=self.plugin, source=self.source)
        return component

    def __repr__(self) -> str:
        return f"<register {self.base.kind} for plugin {self.plugin!r}>"


def _malformed(component: type, base: type[Component]) -> str | None:
    if not isinstance(component, type) or not issubclass(component, base):
        return f"it must be a subclass of workbench.components.{base.__name__}"
    name = getattr(component, "name", "")
    if not isinstance(name, str) or not NAME_RE.match(name):
        return f"name {name!r} must be lower-case letters, digits, '.', '_' or '-'"
    desc = getattr(component, "description", "")
    if not isinstance(desc, str) or not desc.strip() or "\n" in desc.strip():
        return "description must be one non-empty line"
    options = getattr(component, "Options", None)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        return "Options must be a pydantic BaseModel subclass"
    try:
        options()
    except Exception as exc:  # noqa: BLE001 - any failure means no usable defaults
        return f"Options must have a default for every field ({exc.__class__.__name__}: {exc})"
    op = OPERATION.get(base.kind, "run")
    if getattr(component, op, None) is getattr(base, op, None):
        return f"it must implement {op}()"
    return None
