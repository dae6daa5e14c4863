"""A plugin written from the contract alone: one component per family, imports from `workbench` only, tests pass.

The example plugin is that plugin: its code and its own tests may import the
plugin API (`workbench`, `workbench.testing`) and nothing else of Workbench,
and its tests run green on their own.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "workbench-example-plugin"
API_MODULES = {"workbench", "workbench.testing"}


def workbench_imports(path: Path) -> set[str]:
    """Every module of Workbench (or its built-in plugins) that a file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
        found |= {n for n in names if n.split(".")[0] in ("workbench", "plugins")}
    return found


def test_example_plugin_and_its_tests_import_only_the_plugin_api():
    files = sorted(EXAMPLE.glob("workbench_example_plugin/*.py")) + sorted(EXAMPLE.glob("tests/*.py"))
    assert len(files) >= 2
    for path in files:
        assert workbench_imports(path) <= API_MODULES, path


@pytest.mark.entry_points
def test_example_plugin_has_one_component_per_family():
    from workbench.runtime.discovery import Host

    host = Host()
    kinds = {kind for kind, _, entry in host.registry.entries() if entry.plugin == "example"}
    assert kinds == {"reader", "writer", "cleaner", "augmenter", "scenario", "trainer", "step", "metric"}


def test_example_plugin_tests_pass_on_their_own():
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=EXAMPLE,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout


def test_the_contract_page_examples_run(monkeypatch):
    """docs/plugins.md's plugin and its test, executed as written."""
    import re
    import types

    text = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    plugin = types.ModuleType("my_plugin")
    exec(blocks[0], plugin.__dict__)  # noqa: S102 - the documented plugin
    monkeypatch.setitem(sys.modules, "my_plugin", plugin)
    test_module: dict = {}
    exec(blocks[-1], test_module)  # noqa: S102 - the documented test
    test_module["test_drop_short"]()
