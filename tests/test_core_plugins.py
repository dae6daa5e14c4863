"""The plugin host: discovery, registration checks, faults named by plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench import hookspecs
from workbench.components import Cleaner
from workbench.errors import PluginError
from workbench.ledger import StepResult
from workbench.runtime.discovery import Host

GOOD_PLUGIN = '''
from workbench.components import Cleaner
from workbench.hookspecs import hookimpl
from workbench.ledger import StepResult

class Upper(Cleaner):
    name = "dir-upper"
    description = "Upper-case nothing; proves plugins-dir loading"
    def run(self, table, ctx):
        return StepResult(table)

@hookimpl
def register_cleaners(register):
    register(Upper)
'''


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_builtins_register_every_family():
    host = Host(load_third_party=False)
    kinds = {kind for kind, _, _ in host.registry.entries()}
    assert {"step"} <= kinds
    assert host.registry.get("step", "split").name == "split"
    assert all(p.source == "builtin" for p in host.plugins.values())


def test_plugins_dir_is_loaded_and_listed(tmp_path):
    write(tmp_path / "pl", "myplug", GOOD_PLUGIN)
    host = Host(tmp_path / "pl")
    info = host.plugins["myplug"]
    assert info.source == "plugins-dir"
    assert info.hooks == ["register_cleaners"]
    assert {"kind": "cleaner", "name": "dir-upper"} in info.components
    assert host.registry.entry("cleaner", "dir-upper").plugin == "myplug"


def test_misspelled_hook_names_plugin_and_file(tmp_path):
    path = write(tmp_path / "pl", "typo", '''
        from workbench.hookspecs import hookimpl
        @hookimpl
        def register_cleanrs(register):
            pass
    ''')
    with pytest.raises(PluginError) as err:
        Host(tmp_path / "pl")
    assert "'typo'" in str(err.value) and str(path) in str(err.value)
    assert "register_cleanrs" in str(err.value)


@pytest.mark.parametrize("body, problem", [
    ("class C(Cleaner):\n    name = 'Bad Name'\n    description = 'x'\n    def run(self, t, c): pass", "name"),
    ("class C(Cleaner):\n    name = 'ok'\n    description = ''\n    def run(self, t, c): pass", "description"),
    ("class C(Cleaner):\n    name = 'ok'\n    description = 'x'", "implement run"),
    ("class C:\n    name = 'ok'\n    description = 'x'", "subclass"),
    ("from pydantic import BaseModel\nclass O(BaseModel):\n    need: int\n"
     "class C(Cleaner):\n    name = 'ok'\n    description = 'x'\n    Options = O\n    def run(self, t, c): pass",
     "default"),
])
def test_malformed_component_is_rejected_with_plugin_name(tmp_path, body, problem):
    path = write(tmp_path / "pl", "broken", "from workbench.components import Cleaner\n"
                 "from workbench.hookspecs import hookimpl\n" + body +
                 "\n@hookimpl\ndef register_cleaners(register):\n    register(C)\n")
    with pytest.raises(PluginError) as err:
        Host(tmp_path / "pl")
    message = str(err.value)
    assert "'broken'" in message and str(path) in message and problem in message


def test_name_clash_names_both_plugins(tmp_path):
    write(tmp_path / "pl", "first", GOOD_PLUGIN)
    write(tmp_path / "pl", "second", GOOD_PLUGIN)
    with pytest.raises(PluginError) as err:
        Host(tmp_path / "pl")
    assert "'second'" in str(err.value) and "'first'" in str(err.value) and "dir-upper" in str(err.value)


def test_env_var_restricts_third_party_plugins(tmp_path, monkeypatch):
    write(tmp_path / "pl", "myplug", GOOD_PLUGIN)
    monkeypatch.setenv("WORKBENCH_PLUGINS", "none")
    assert "myplug" not in Host(tmp_path / "pl").plugins
    monkeypatch.setenv("WORKBENCH_PLUGINS", "myplug")
    assert "myplug" in Host(tmp_path / "pl").plugins
    monkeypatch.setenv("WORKBENCH_PLUGINS", "someone-else")
    assert "myplug" not in Host(tmp_path / "pl").plugins


def test_registered_plugin_object_in_try_finally():
    """Register a tiny plugin class directly, as a third party would in a test."""
    class Noop(Cleaner):
        name = "noop-object"
        description = "Does nothing"

        def run(self, table, ctx):
            return StepResult(table)

    class Plugin:
        @hookspecs.hookimpl
        def register_cleaners(self, register):
            register(Noop)

    host = Host(load_third_party=False)
    host.add_plugin(Plugin(), "object-plugin")
    try:
        assert host.registry.get("cleaner", "noop-object") is Noop
        assert host.plugins["object-plugin"].components == [{"kind": "cleaner", "name": "noop-object"}]
    finally:
        host.remove_plugin("object-plugin")
    assert "noop-object" not in host.registry.names("cleaner")


def test_every_hook_is_documented_and_tested():
    hooks = [name for name in dir(hookspecs) if name.startswith("register_")]
    guide = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    for hook in hooks:
        doc = getattr(hookspecs, hook).__doc__ or ""
        assert "Called" in doc, f"{hook} docstring must say when it is called"
        assert f"{hook}(register)" in guide, f"docs/plugins.md must document {hook}(register)"
        assert f"def {hook}(" in tests, f"some test must implement {hook}"


def test_plugins_json_lists_plugins(tmp_path):
    write(tmp_path / "pl", "myplug", GOOD_PLUGIN)
    out = subprocess.run([sys.executable, "-m", "workbench", "--plugins-dir", str(tmp_path / "pl"), "plugins", "--json"],
                         capture_output=True, text=True, check=True)
    data = {p["name"]: p for p in json.loads(out.stdout)}
    assert data["myplug"]["source"] == "plugins-dir"
    assert data["workbench.plugins.steps"]["source"] == "builtin"
    for p in data.values():
        assert set(p) >= {"name", "version", "source", "path", "hooks", "components"}


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys, time; t=time.perf_counter(); from workbench.cli import build_parser; build_parser();"
            "print(time.perf_counter()-t); print(sorted(m for m in ('torch','transformers','textattack','polars')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert float(out[0]) < 1.0
    assert out[1] == "[]"


def _install_broken_distribution(site: Path) -> None:
    """A real installed distribution whose entry point imports a missing module."""
    (site / "legal_kit").mkdir(parents=True)
    (site / "legal_kit" / "__init__.py").write_text("import statute_parser_missing  # noqa\n")
    info = site / "workbench_legal_kit-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: workbench-legal-kit\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[workbench]\nlegal = legal_kit\n")


def _cli(args: list[str], site: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    import os

    environ = {k: v for k, v in os.environ.items() if k != "WORKBENCH_PLUGINS"}
    environ |= {"PYTHONPATH": str(site), "WORKBENCH_RUNS": str(tmp_path / "runs")} | env
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=environ,
                          cwd=tmp_path)


def test_plugin_that_fails_to_import_is_reported_and_commands_keep_working(tmp_path):
    site = tmp_path / "site"
    _install_broken_distribution(site)
    runs = _cli(["runs"], site, tmp_path)
    assert runs.returncode == 0, runs.stderr
    listed = _cli(["plugins", "--json"], site, tmp_path)
    assert listed.returncode == 0, listed.stderr
    legal = next(p for p in json.loads(listed.stdout) if p["name"] == "legal")
    assert legal["failed"] and "statute_parser_missing" in legal["error"] and legal["source"] == "entrypoint"
    assert listed.stderr.count("'legal'") == 1 and "failed to import" in listed.stderr
    text = _cli(["plugins"], site, tmp_path)
    assert "legal FAILED" in text.stdout and "statute_parser_missing" in text.stdout

    data = tmp_path / "chats.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    (tmp_path / "run.toml").write_text(f'[run]\nname = "legal"\n[[steps]]\nkind = "load"\noptions = {{path = "{data}"}}\n'
                                       '[[steps]]\nkind = "clean"\ncomponent = "statute-check"\n')
    run = _cli(["run", "run.toml"], site, tmp_path)
    assert run.returncode == 1
    assert "statute-check" in run.stderr and "'legal'" in run.stderr and "statute_parser_missing" in run.stderr


def test_plugins_dir_import_failure_is_not_fatal(tmp_path):
    write(tmp_path / "pl", "myplug", GOOD_PLUGIN)
    write(tmp_path / "pl", "broken", "import no_such_module_here\n")
    host = Host(tmp_path / "pl")
    assert "myplug" in host.plugins and "broken" not in host.plugins
    assert "no_such_module_here" in host.failed["broken"].error
    assert "no_such_module_here" in host.failed["broken"].traceback
    with pytest.raises(PluginError) as err:
        host.registry.entry("cleaner", "missing-one")
    assert "'broken'" in str(err.value) and "no_such_module_here" in str(err.value)


@pytest.mark.parametrize("selector", ["legal", "workbench-legal-kit", "workbench_legal_kit", "legal_kit"])
def test_env_var_accepts_entry_point_distribution_or_package_name(tmp_path, selector):
    site = tmp_path / "site"
    _install_broken_distribution(site)
    listed = _cli(["plugins", "--json"], site, tmp_path, WORKBENCH_PLUGINS=selector)
    names = {p["name"] for p in json.loads(listed.stdout)}
    assert "legal" in names and "example" not in names
    assert "matches no installed plugin" not in listed.stderr


def test_env_var_name_that_matches_nothing_warns(tmp_path):
    listed = _cli(["plugins", "--json"], tmp_path, tmp_path, WORKBENCH_PLUGINS="legal-kitt")
    assert listed.returncode == 0
    assert "'legal-kitt'" in listed.stderr and "matches no installed plugin" in listed.stderr
    assert all(p["source"] == "builtin" for p in json.loads(listed.stdout))


def test_trace_env_var_shows_each_hook_call(tmp_path):
    write(tmp_path / "pl", "myplug", GOOD_PLUGIN)
    out = _cli(["--plugins-dir", str(tmp_path / "pl"), "plugins", "--json"], tmp_path, tmp_path,
               WORKBENCH_TRACE_PLUGINS="1")
    assert out.returncode == 0, out.stderr
    assert "register_cleaners" in out.stderr and "<register cleaner for plugin 'myplug'>" in out.stderr
    assert "<register step for plugin 'workbench.plugins.steps'>" in out.stderr
    for plugin in json.loads(out.stdout):  # one traced call per plugin and hook it implements
        for hook in plugin["hooks"]:
            kind = hookspecs_kind(hook)
            assert f"<register {kind} for plugin {plugin['name']!r}>" in out.stderr


def hookspecs_kind(hook: str) -> str:
    from workbench.components import FAMILIES

    return FAMILIES[hook].kind


def test_hook_wrappers_and_tryfirst_apply(tmp_path, monkeypatch):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "call_log.py").write_text("calls = []\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    body = ("from workbench.components import Cleaner\nfrom workbench.hookspecs import hookimpl\n"
            "from workbench.ledger import StepResult\nimport call_log\n")
    for stem, marker in (("a_late", "trylast=True"), ("b_early", "tryfirst=True")):
        write(tmp_path / "pl", stem, body + f"""
class C(Cleaner):
    name = "{stem.replace('_', '-')}"
    description = "x"
    def run(self, table, ctx):
        return StepResult(table)

@hookimpl({marker})
def register_cleaners(register):
    call_log.calls.append("{stem}")
    register(C)
""")
    write(tmp_path / "pl", "c_watcher", body + """
@hookimpl(wrapper=True)
def register_cleaners(register):
    call_log.calls.append(f"wrap {register!r}")
    return (yield)
""")
    host = Host(tmp_path / "pl")
    import call_log

    calls = call_log.calls
    assert calls.index("b_early") < calls.index("a_late")
    assert calls.index("wrap <register cleaner for plugin 'b_early'>") == calls.index("b_early") - 1
    assert calls.index("wrap <register cleaner for plugin 'a_late'>") == calls.index("a_late") - 1
    assert host.registry.entry("cleaner", "b-early").plugin == "b_early"
    assert host.plugins["c_watcher"].components == []


def test_plugins_page_lists_a_failed_plugin_with_its_error(tmp_path):
    from workbench.ui_support.plugins_info import plugins_table

    write(tmp_path / "pl", "broken", "import no_such_module_here\n")
    table = plugins_table(Host(tmp_path / "pl"))
    row = table.filter(table["plugin"] == "broken").to_dicts()[0]
    assert row["source"] == "plugins-dir (failed)" and "no_such_module_here" in row["error"]
    assert set(table.filter(table["plugin"] != "broken")["error"]) == {""}
