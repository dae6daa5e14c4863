"""What the Plugins page lists: loaded plugins and every component's options."""

from __future__ import annotations

import polars as pl

from workbench.runtime.discovery import Host
from workbench.ui_support.forms import form_fields


def plugins_table(host: Host) -> pl.DataFrame:
    """Plugin name, version, source (builtin, entry point, plugins folder), file, hooks, component count, and
    the import error of a plugin that failed to load (listed too, with no components)."""
    rows = [{"plugin": p.name, "version": p.version or "", "source": p.source, "path": p.path,
             "hooks": ", ".join(h.removeprefix("register_") for h in p.hooks), "components": len(p.components),
             "error": ""} for p in host.plugins.values()]
    rows += [{"plugin": f.name, "version": "", "source": f"{f.source} (failed)", "path": f.path, "hooks": "",
              "components": 0, "error": f.error} for f in host.failed.values()]
    return pl.DataFrame(rows)


def components_table(host: Host, kind: str | None = None) -> pl.DataFrame:
    """Every registered component: kind, name, plugin, version, description."""
    rows = [{"kind": k, "name": n, "plugin": e.plugin, "version": e.component.version,
             "description": e.component.description} for k, n, e in host.registry.entries(kind)]
    return pl.DataFrame(rows, schema={"kind": pl.Utf8, "name": pl.Utf8, "plugin": pl.Utf8, "version": pl.Utf8,
                                      "description": pl.Utf8})


def options_table(component: type) -> pl.DataFrame:
    """A component's options: name, widget, default, help."""
    rows = [{"option": f.name, "widget": f.widget, "default": str(f.default), "help": f.help}
            for f in form_fields(component)]
    return pl.DataFrame(rows, schema={"option": pl.Utf8, "widget": pl.Utf8, "default": pl.Utf8, "help": pl.Utf8})


def kinds(host: Host) -> list[str]:
    return sorted({k for k, _, _ in host.registry.entries()})
