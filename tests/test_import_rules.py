"""Import direction, checked on the source (AST, every import including those inside functions).

The layers of docs/architecture.md, lowest first: a module imports only from its own layer and the
layers below it. The built-in plugins (``workbench.plugins``, the ``plugins/`` folder) sit on the
services; nothing outside them imports a plugin (the core finds them through the registry, and the app
and CLI through the core). The library (``workbench/``, ``plugins/``) never imports streamlit.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: lowest first; each layer: the modules and packages it holds (a module belongs to its longest prefix)
LAYERS: dict[str, tuple[str, ...]] = {
    # the plugin API: ``workbench`` itself (only: a new top-level module is placed on purpose), its modules
    # and what ``import workbench`` re-exports from deeper packages
    "contract": ("workbench", "workbench.components", "workbench.hookspecs", "workbench.ledger", "workbench.context",
                 "workbench.errors", "workbench.options_error", "workbench.augmentation", "workbench.schema",
                 "workbench.evaluation.result", "workbench.io.problems", "workbench.io.records"),
    "foundations": ("workbench.runtime", "workbench.lm", "workbench.resources"),
    "services": ("workbench.io", "workbench.training", "workbench.scenarios", "workbench.evaluation",
                 "workbench.feedback", "workbench.openai_server", "workbench.report", "workbench.experiment"),
    "plugins": ("workbench.plugins",),
    # workbench.testing sits at the top for plugin authors' tests; nothing in the library imports it
    "applications": ("workbench.cli", "workbench.__main__", "workbench.commands", "workbench.bench",
                     "workbench.ui_support", "workbench.testing"),
}
RANK = {name: i for i, name in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    """The import name of a source file: ``plugins/`` installs as ``workbench.plugins``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if parts[0] == "plugins":
        parts.insert(0, "workbench")
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def sources() -> list[Path]:
    return sorted((ROOT / "workbench").rglob("*.py")) + sorted((ROOT / "plugins").rglob("*.py"))


KNOWN = {module_name(path) for path in sources()}


def imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path`` (or ``source`` read as that file); ``from pkg import sub``
    names the submodule when it is one, relative imports are resolved."""
    here = module_name(path)
    package = here if is_package(path) else here.rpartition(".")[0]
    text = path.read_text(encoding="utf-8") if source is None else source
    out = []
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            out += [(node.lineno, f"{base}.{a.name}" if f"{base}.{a.name}" in KNOWN else base) for a in node.names]
    return out


def layer(module: str) -> str | None:
    """The layer of a ``workbench`` module (longest prefix; ``workbench`` itself only exactly), None for other
    libraries and for a module nobody placed."""
    best = max(((prefix, name) for name, prefixes in LAYERS.items() for prefix in prefixes
                if module == prefix or (prefix != "workbench" and module.startswith(prefix + "."))),
               key=lambda p: len(p[0]), default=None)
    return best[1] if best else None


def violations(path: Path, source: str | None = None) -> list[str]:
    rel, own = path.relative_to(ROOT).as_posix(), layer(module_name(path))
    found = []
    for line, target in imports(path, source):
        theirs = layer(target)
        if theirs is None or own is None:
            continue
        if theirs == "plugins" and own != "plugins":
            found.append(f"{rel}:{line} imports the plugin module {target}: find it through the registry")
        elif RANK[theirs] > RANK[own]:
            found.append(f"{rel}:{line}: {own} imports {target} from the higher layer {theirs}")
    return found


def test_every_import_points_down_or_sideways():
    assert [v for path in sources() for v in violations(path)] == []


def test_every_module_has_a_layer():
    assert [module_name(p) for p in sources() if layer(module_name(p)) is None] == []


def test_docs_map_every_package():
    """docs/architecture.md names every package of the library (``workbench/x/``, ``plugins/x/``)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted({p.parent.relative_to(ROOT).as_posix() for p in sources() if is_package(p)})
    assert [p for p in packages if not re.search(rf"`{re.escape(p)}/?`", text)] == []


def test_the_scan_sees_imports_inside_functions_and_resolves_relative_ones():
    path = ROOT / "plugins" / "augmenters" / "example.py"  # read from the source below, never written
    source = ("def f():\n    from workbench.plugins.cleaners.chain import DEFAULT_CHAIN\n"
              "    import workbench.plugins.steps\n    from .base import rng\n    from . import eda\n"
              "    from workbench import runtime, hookimpl\n")
    assert imports(path, source) == [
        (2, "workbench.plugins.cleaners.chain"), (3, "workbench.plugins.steps"),
        (4, "workbench.plugins.augmenters.base"), (5, "workbench.plugins.augmenters.eda"),
        (6, "workbench.runtime"), (6, "workbench")]
    assert module_name(path) == "workbench.plugins.augmenters.example"
    assert [layer(m) for m in ("workbench.plugins.cleaners.chain", "workbench.runtime.engine", "workbench.schema",
                               "workbench.evaluation.result", "workbench.evaluation.harness", "polars")] == [
        "plugins", "foundations", "contract", "contract", "services", None]


def test_a_violation_is_named():
    path = ROOT / "workbench" / "runtime" / "engine.py"
    source = ("def f():\n    from workbench.plugins.cleaners.chain import run_chain\n"
              "    from workbench.ui_support import review\n    from workbench.lm import tiny\n")
    assert violations(path, source) == [
        "workbench/runtime/engine.py:2 imports the plugin module workbench.plugins.cleaners.chain: "
        "find it through the registry",
        "workbench/runtime/engine.py:3: foundations imports workbench.ui_support.review from the higher layer "
        "applications",
    ]


def test_nothing_imports_the_folder_name_plugins():
    """``plugins/`` installs as ``workbench.plugins``: from the repository root a top-level ``plugins`` would
    import too (a second copy of every module), so no file of the repository uses that name."""
    files = sources() + sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "pages").rglob("*.py")) + sorted(
        (ROOT / "examples").rglob("*.py")) + sorted((ROOT / "scripts").rglob("*.py")) + [ROOT / "app.py"]
    assert [f"{p.relative_to(ROOT)}:{line} imports {name}" for p in files for line, name in imports(p)
            if name.split(".")[0] == "plugins"] == []


def test_library_never_imports_streamlit():
    assert [f"{p.relative_to(ROOT)}:{line}" for p in sources() for line, name in imports(p)
            if name.split(".")[0] == "streamlit"] == []
