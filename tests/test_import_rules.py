"""Import direction, checked on the source (AST, every import including those inside functions).

- the core (`workbench/`) never imports the built-in plugins (`plugins/`): it finds them through the
  registry, like third-party ones. The one exception is `workbench/bench/`, whose benchmarks measure
  the built-in plugins' internals (docs/architecture.md);
- the library (`workbench/`, `plugins/`) never imports streamlit: pages stay thin.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: core packages allowed to import built-in plugin modules, and why (docs/architecture.md)
PLUGIN_IMPORTS_ALLOWED = {"workbench/bench": "benchmarks of the built-in plugins' internals"}


def imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def offenders(folder: str, top: str, allowed: dict[str, str] | None = None) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if allowed and any(rel.startswith(prefix + "/") for prefix in allowed):
            continue
        found += [f"{rel}:{line} imports {name}" for line, name in imports(path) if name.split(".")[0] == top]
    return found


def test_core_never_imports_builtin_plugins():
    assert offenders("workbench", "plugins", PLUGIN_IMPORTS_ALLOWED) == []


def test_the_scan_sees_imports_inside_functions(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from workbench.plugins.cleaners.chain import DEFAULT_CHAIN\n    import workbench.plugins.steps\n")
    assert imports(path) == [(2, "workbench.plugins.cleaners.chain"), (3, "workbench.plugins.steps")]


def test_allowed_exceptions_are_still_needed():
    """An exception nobody uses any more is removed from the list (and from docs/architecture.md)."""
    for prefix in PLUGIN_IMPORTS_ALLOWED:
        assert any(name.split(".")[0] == "plugins" for path in (ROOT / prefix).rglob("*.py")
                   for _, name in imports(path)), prefix


def test_library_never_imports_streamlit():
    assert offenders("workbench", "streamlit") + offenders("plugins", "streamlit") == []
