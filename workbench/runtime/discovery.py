"""Plugin discovery and loading: built-ins, entry points, a plugins folder.

Built-in plugins (``DEFAULT_PLUGINS``) are registered exactly like third-party
ones. Third-party plugins come from the entry-point group ``workbench`` and
from ``*.py`` files in a plugins folder (``--plugins-dir`` or
``WORKBENCH_PLUGINS_DIR``). ``WORKBENCH_PLUGINS`` restricts third-party
loading: unset loads all, ``none`` (or empty) loads none, otherwise a comma
separated list of plugins to load, each given by its entry-point name, its
distribution name (``pip install`` name) or its top-level package (or, for the
plugins folder, its file stem); a name that matches nothing is a warning.
``WORKBENCH_TRACE_PLUGINS=1`` logs every hook call to stderr.

A third-party plugin that fails to import does not stop Workbench: it is
reported once (stderr, and ``workbench plugins`` lists it as failed with the
error) and a run that asks for a component nobody registered names it.

Loading is lazy and happens once per process (``get_manager``); importing a
plugin module must stay cheap, heavy libraries load inside the components.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from workbench import hookspecs
from workbench.components import FAMILIES
from workbench.errors import PluginError
from workbench.runtime.code_hash import is_editable
from workbench.runtime.registry import FailedPlugin, Registry

DEFAULT_PLUGINS: tuple[str, ...] = (
    "workbench.plugins.formats",
    "workbench.plugins.cleaners",
    "workbench.plugins.augmenters",
    "workbench.plugins.scenarios",
    "workbench.plugins.trainers",
    "workbench.plugins.openai",
    "workbench.plugins.metrics",
    "workbench.plugins.evaluation",
    "workbench.plugins.steps",
)
ENTRY_POINT_GROUP = "workbench"


@dataclass
class PluginInfo:
    name: str
    version: str | None
    source: str  # "builtin", "entrypoint" or "plugins-dir"
    path: str
    hooks: list[str] = field(default_factory=list)
    components: list[dict[str, str]] = field(default_factory=list)
    #: code edited in place (plugins folder, editable install): step keys include a hash of its source
    local: bool = False


class Host:
    """A loaded pluggy manager, its registry and what each plugin brought."""

    def __init__(self, plugins_dir: str | os.PathLike[str] | None = None, *, load_third_party: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        if os.environ.get("WORKBENCH_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
            self.pm.enable_tracing()
        self.registry = Registry()
        self.plugins: dict[str, PluginInfo] = {}
        #: third-party plugins that failed to import (the registry names them when a component is missing)
        self.failed: dict[str, FailedPlugin] = self.registry.failed_plugins
        self.warnings: list[str] = []
        for module_name in _available_builtins():
            module = importlib.import_module(module_name)
            self._add(module, module_name, "builtin", _version("workbench"), local=is_editable("workbench"))
        if load_third_party:
            allowed = _allowed_names()
            matched: set[str] = set()
            self._load_entry_points(allowed, matched)
            plugins_dir = plugins_dir or os.environ.get("WORKBENCH_PLUGINS_DIR")
            if plugins_dir:
                self._load_dir(Path(plugins_dir), allowed, matched)
            for name in sorted((allowed or set()) - matched):
                self.warnings.append(f"WORKBENCH_PLUGINS names {name!r}, which matches no installed plugin "
                                     "(give an entry-point, distribution or package name; `workbench plugins` "
                                     "lists what is installed)")
        self._register_all()
        for message in self.warnings + [f.message() for f in self.failed.values()]:
            print(f"warning: {message}", file=sys.stderr)

    # -- loading -----------------------------------------------------------
    def _add(self, plugin: Any, name: str, source: str, version: str | None, *, local: bool = False) -> None:
        path = getattr(plugin, "__file__", None) or inspect.getfile(type(plugin))  # module, or plugin object
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginError(f"plugin {name!r} ({path}) is invalid: {exc}",
                              hint="hook names are listed in docs/plugins.md") from exc
        except ValueError as exc:
            raise PluginError(f"plugin {name!r} ({path}) could not be registered: {exc}") from exc
        hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
        self.plugins[name] = PluginInfo(name, version, source, str(path), hooks, local=local)

    def _load_entry_points(self, allowed: set[str] | None, matched: set[str]) -> None:
        for ep in _entry_points():
            names = _entry_point_names(ep)
            if allowed is not None:
                if not names & allowed:
                    continue
                matched |= names & allowed
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure is a plugin fault, reported not fatal
                self._fail(ep.name, "entrypoint", f"entry point {ep.value}", exc)
                continue
            version = _version(ep.dist.name) if ep.dist else None
            self._add(plugin, ep.name, "entrypoint", version, local=bool(ep.dist and is_editable(ep.dist.name)))

    def _load_dir(self, folder: Path, allowed: set[str] | None, matched: set[str]) -> None:
        if not folder.is_dir():
            raise PluginError(f"plugins folder {folder} does not exist or is not a folder")
        for path in sorted(folder.glob("*.py")):
            if allowed is not None:
                if path.stem not in allowed:
                    continue
                matched.add(path.stem)
            spec = importlib.util.spec_from_file_location(f"workbench_dir_plugin_{path.stem}", path)
            if spec is None or spec.loader is None:  # importlib found no way to load the file
                self._fail(path.stem, "plugins-dir", str(path), ImportError(f"no loader for {path}"))
                continue
            module = importlib.util.module_from_spec(spec)
            sys.modules[module.__name__] = module  # so inspect (source hashes, tracebacks) finds its file
            try:
                spec.loader.exec_module(module)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                del sys.modules[module.__name__]
                self._fail(path.stem, "plugins-dir", str(path), exc)
                continue
            self._add(module, path.stem, "plugins-dir", getattr(module, "__version__", None), local=True)

    def _fail(self, name: str, source: str, path: str, exc: BaseException) -> None:
        import traceback

        self.failed[name] = FailedPlugin(name, source, path, f"{type(exc).__name__}: {exc}",
                                         "".join(traceback.format_exception(exc)))

    def _register_all(self) -> None:
        """Call every hook through pluggy, once per plugin, in pluggy's order (tryfirst/trylast honoured)."""
        for hook_name in FAMILIES:
            for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
                if not (impl.hookwrapper or impl.wrapper):
                    self._call_hook(hook_name, impl.plugin_name)
        for name in self.plugins:
            self._list_components(name)

    def _call_hook(self, hook_name: str, plugin_name: str) -> None:
        """Call one plugin's implementation through a pluggy hook caller, with a ``register`` bound to it.

        The subset caller keeps the hook wrappers of every plugin and pluggy's tracing, so
        ``WORKBENCH_TRACE_PLUGINS=1`` shows each call and wrappers see each plugin's registrations.
        """
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        others = [i.plugin for i in impls if i.plugin_name != plugin_name and not (i.hookwrapper or i.wrapper)]
        caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
        caller(register=self.registry.register_callback(hook_name, plugin_name, self.plugins[plugin_name].path))

    def _list_components(self, plugin_name: str) -> None:
        self.plugins[plugin_name].components = [{"kind": kind, "name": cname}
                                                for kind, cname, entry in self.registry.entries()
                                                if entry.plugin == plugin_name]

    def add_plugin(self, plugin: Any, name: str, version: str | None = None) -> None:
        """Register a plugin object at run time (tests, notebooks)."""
        self._add(plugin, name, "object", version)
        for hook_name in self.plugins[name].hooks:
            if hook_name in FAMILIES:
                self._call_hook(hook_name, name)
        self._list_components(name)

    def remove_plugin(self, name: str) -> None:
        """Undo :meth:`add_plugin`: unregister the plugin and its components."""
        self.pm.unregister(name=name)
        self.registry.remove_plugin(name)
        self.plugins.pop(name, None)

    def info(self) -> list[dict[str, Any]]:
        """Loaded plugins, then the ones that failed to import (``source`` says which, ``error`` why)."""
        return [vars(p) for p in self.plugins.values()] + [f.info() for f in self.failed.values()]


def _available_builtins() -> list[str]:
    """Built-in modules present in this install (a bare folder is not a plugin)."""
    return [m for m in DEFAULT_PLUGINS if (spec := importlib.util.find_spec(m)) is not None and spec.origin]


def _entry_points() -> tuple[importlib.metadata.EntryPoint, ...]:
    return tuple(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _entry_point_names(ep: importlib.metadata.EntryPoint) -> set[str]:
    """Every name ``WORKBENCH_PLUGINS`` may use for an entry point: its own, its distribution's, its package's."""
    names = {ep.name, ep.module.split(".")[0]}
    if ep.dist is not None:
        dist = ep.dist.name
        names |= {dist, dist.lower(), dist.lower().replace("_", "-"), dist.lower().replace("-", "_")}
    return names


def _allowed_names() -> set[str] | None:
    raw = os.environ.get("WORKBENCH_PLUGINS")
    if raw is None:
        return None
    names = {n.strip() for n in raw.split(",") if n.strip()}
    return set() if names <= {"none"} else names


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


_HOST: Host | None = None


def get_host(plugins_dir: str | os.PathLike[str] | None = None) -> Host:
    """The process-wide host, loaded on first use."""
    global _HOST
    if _HOST is None or plugins_dir is not None:
        _HOST = Host(plugins_dir)
    return _HOST


def reset_host() -> None:
    """Forget the loaded host (tests and the UI after installing a plugin)."""
    global _HOST
    _HOST = None


def get_registry() -> Registry:
    return get_host().registry
