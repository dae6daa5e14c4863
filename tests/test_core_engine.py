"""The run engine: reuse, resume, failures that name their cause, accounting."""

from __future__ import annotations

import json

import polars as pl
import pytest
from pydantic import Field

from workbench import schema
from workbench.components import Cleaner, Options, Step
from workbench.errors import RowError, StepError
from workbench.hookspecs import hookimpl
from workbench.ledger import Ledger, StepResult, restore
from workbench.runtime import store
from workbench.runtime.discovery import Host
from workbench.runtime.engine import execute
from workbench.runtime.runfile import parse_runfile

CALLS: list[str] = []


def make_rows(n: int, labels=("a", "b")) -> pl.DataFrame:
    return schema.from_rows([
        {"id": f"r{i}", "label": labels[i % len(labels)],
         "messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}
        for i in range(n)
    ])


class SeedOptions(Options):
    rows: int = Field(default=10, description="How many rows")


class Seed(Step):
    name = "seed-rows"
    description = "Emit synthetic rows"
    Options = SeedOptions

    def run(self, table, ctx):
        CALLS.append(self.name)
        rows = make_rows(self.options.rows)
        return StepResult(rows, _added(rows))


def _added(rows: pl.DataFrame) -> pl.DataFrame:
    ledger = Ledger("seed-rows")
    ledger.extend(pl.DataFrame({"row_id": rows["id"], "action": "added", "reason": "synthetic"}))
    return ledger.frame()


class DropOptions(Options):
    every: int = Field(default=3, description="Drop every n-th row")
    fail_on: str | None = Field(default=None, description="Raise on this row id")
    unbalanced: bool = Field(default=False, description="Forget to record drops")


class DropEvery(Step):
    name = "drop-every"
    description = "Drop every n-th row"
    Options = DropOptions

    def run(self, table, ctx):
        CALLS.append(self.name)
        ledger = Ledger(self.name)
        keep = []
        for i, row in enumerate(table.iter_rows(named=True)):
            if row["id"] == self.options.fail_on:
                raise RowError(row["id"], "cannot handle this row")
            if i % self.options.every == 0:
                if not self.options.unbalanced:
                    ledger.drop(row["id"], "every n-th", row=row)
            else:
                keep.append(row["id"])
        return StepResult(table.filter(pl.col("id").is_in(keep)), ledger.frame())


class TestPlugin:
    @hookimpl
    def register_steps(self, register):
        register(Seed)
        register(DropEvery)


@pytest.fixture
def host():
    h = Host(load_third_party=False)
    h.add_plugin(TestPlugin(), "engine-test")
    CALLS.clear()
    yield h
    h.remove_plugin("engine-test")


def runfile(drop_options=None, split=False):
    steps = [{"kind": "seed", "component": "seed-rows", "options": {"rows": 12}},
             {"kind": "drop", "component": "drop-every", "options": drop_options or {}}]
    if split:
        steps.append({"kind": "split", "options": {"train": 0.5, "validation": 0.25, "test": 0.25}})
    return parse_runfile({"run": {"name": "t", "seed": 7}, "steps": steps})


def test_run_writes_folders_manifests_and_reuses(host, tmp_path):
    out = execute(runfile(), host=host)
    assert [s.reused for s in out.steps] == [False, False]
    m = out.steps[1].manifest
    assert (m["rows_in"], m["rows_out"], m["dropped"]) == (12, 8, 4)
    assert m["dropped_by_reason"] == {"every n-th": 4}
    assert m["plugin"] == "engine-test" and m["options"]["every"] == 3
    folder = out.steps[1].folder
    assert {p.name for p in folder.iterdir()} >= {"output.parquet", "ledger.parquet", "manifest.json"}
    assert (out.run_dir / "run.toml").exists() and store.read_json(out.run_dir / "run.json")["state"] == "finished"
    CALLS.clear()
    again = execute(runfile(), host=host)
    assert [s.reused for s in again.steps] == [True, True] and CALLS == []
    changed = execute(runfile({"every": 4}), host=host)
    assert [s.reused for s in changed.steps] == [True, False]
    assert changed.table.height == 9


def test_failure_names_plugin_component_step_row_and_keeps_earlier_steps(host):
    with pytest.raises(StepError) as err:
        execute(runfile({"fail_on": "r5"}), host=host)
    msg = str(err.value)
    assert "02-drop-drop-every" in msg and "'drop-every'" in msg and "'engine-test'" in msg and "'r5'" in msg
    run_dir = store.runs_root() / "t"
    assert [p.name for p in store.step_dirs(run_dir)] == ["01-seed-seed-rows"]
    assert store.read_json(run_dir / "run.json")["state"] == "failed"
    CALLS.clear()
    resumed = execute(runfile(), host=host)
    assert [s.reused for s in resumed.steps] == [True, False]
    assert CALLS == ["drop-every"]


def test_unbalanced_step_is_stopped(host):
    with pytest.raises(StepError, match="does not balance"):
        execute(runfile({"unbalanced": True}), host=host)


def test_invalid_options_are_reported_with_step_and_component(host):
    from workbench.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="invalid options for step 'drop-every'") as err:
        execute(runfile({"evry": 2, "every": "often"}), host=host)
    message = str(err.value)
    assert "\n" not in message and "option 'evry': unknown option" in message
    assert "option 'every': " in message and "'often'" in message
    assert "`workbench plugins --options --json`" in err.value.hint


def test_ledger_restores_dropped_rows(host):
    out = execute(runfile(), host=host)
    ledger = store.run_ledger(out.run_dir)
    back = restore(out.table, ledger)
    assert sorted(back["id"].to_list()) == sorted(f"r{i}" for i in range(12))
    only = restore(schema.empty_table(), ledger, ["r3"])
    assert only["id"].to_list() == ["r3"] and only["messages"][0][1]["content"] == "answer 3"


def test_split_is_seeded_stratified_and_group_aware(host):
    from workbench.plugins.steps import Split

    table = make_rows(40, labels=("x", "y"))
    # ten groups of variants: rows 0..39 map to source ids g0..g9 (4 rows each)
    table = table.with_columns((pl.lit("g") + (pl.int_range(0, 40) // 4).cast(pl.Utf8)).alias("source_id"))
    from workbench.context import scratch_context

    split = Split({"train": 0.6, "validation": 0.2, "test": 0.2, "stratify_by": None})
    out = split.run(table, scratch_context(seed=1)).table
    per_group = out.group_by("source_id").agg(pl.col("split").n_unique().alias("n"))
    assert per_group["n"].max() == 1
    counts = dict(out.group_by("split").len().iter_rows())
    assert counts == {"train": 24, "validation": 8, "test": 8}
    assert out["split"].to_list() == split.run(table, scratch_context(seed=1)).table["split"].to_list()
    assert out["split"].to_list() != split.run(table, scratch_context(seed=2)).table["split"].to_list()


def test_split_keeps_existing_assignments_and_stratifies(host):
    from workbench.context import scratch_context
    from workbench.plugins.steps import Split

    table = make_rows(40, labels=("x", "y")).with_columns(
        pl.when(pl.col("id") == "r0").then(pl.lit("test")).otherwise(None).alias("split"))
    out = Split({"train": 0.5, "validation": 0.0, "test": 0.5}).run(table, scratch_context()).table
    assert out.filter(pl.col("id") == "r0")["split"][0] == "test"
    by_label = out.filter(pl.col("split") == "test").group_by("label").len()
    # y: half of 20 groups; x: the fixed row plus half (rounded) of the other 19
    assert dict(by_label.iter_rows()) == {"y": 10, "x": 11}


def test_runs_cli_lists_shows_and_restores(host, tmp_path, capsys):
    from workbench.cli import main

    execute(runfile(), host=host)
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "t"
    assert main(["runs", "show", "t"]) == 0
    assert "every n-th" in capsys.readouterr().out
    assert main(["runs", "ledger", "t", "--action", "dropped", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 4
    assert main(["runs", "restore", "t", "-o", str(tmp_path / "back.parquet")]) == 0
    assert pl.read_parquet(tmp_path / "back.parquet").height == 4


class StatuteCheck(Cleaner):
    """A cleaner with a plain bug: a lookup that fails on one row only."""

    name = "statute-check"
    description = "Look up each row's statute"

    def run(self, table, ctx):
        statutes = {f"question {i}": "s" for i in range(12) if i != 9}
        for row in table.iter_rows(named=True):
            statutes[row["messages"][0]["content"]]  # KeyError for row r9
        return StepResult(table)


class StatutePlugin:
    @hookimpl
    def register_cleaners(self, register):
        register(StatuteCheck)


def statute_runfile():
    return parse_runfile({"run": {"name": "statute", "seed": 1}, "steps": [
        {"kind": "seed", "component": "seed-rows", "options": {"rows": 12}},
        {"kind": "clean", "component": "statute-check"}]})


def test_plain_exception_in_a_cleaner_names_the_row_and_keeps_the_traceback(host, capsys):
    host.add_plugin(StatutePlugin(), "statute-kit")
    try:
        with pytest.raises(StepError) as err:
            execute(statute_runfile(), host=host)
    finally:
        host.remove_plugin("statute-kit")
    exc = err.value
    assert exc.row_id == "r9" and "at row 'r9'" in str(exc) and "KeyError: 'question 9'" in str(exc)
    assert "'statute-kit'" in str(exc) and exc.traceback_file in exc.hint
    text = open(exc.traceback_file).read()
    assert "Traceback" in text and "statutes[row[\"messages\"][0][\"content\"]]" in text and "r9" in text
    status = store.read_json(store.runs_root() / "statute" / "run.json")
    assert status["state"] == "failed" and status["error_file"] == exc.traceback_file
    assert not any(p.name == ".find-row" for p in (store.runs_root() / "statute").rglob("*"))
    from workbench.cli import main

    assert main(["runs", "show", "statute"]) == 0
    assert f"traceback: {exc.traceback_file}" in capsys.readouterr().out


def test_failure_that_does_not_depend_on_rows_blames_no_row(host):
    class AlwaysFails(Cleaner):
        name = "always-fails"
        description = "Fails whatever the rows"

        def run(self, table, ctx):
            raise ValueError("no model configured")

    class Plugin:
        @hookimpl
        def register_cleaners(self, register):
            register(AlwaysFails)

    host.add_plugin(Plugin(), "always")
    try:
        with pytest.raises(StepError) as err:
            execute(parse_runfile({"run": {"name": "always"}, "steps": [
                {"kind": "seed", "component": "seed-rows"}, {"kind": "clean", "component": "always-fails"}]}),
                host=host)
    finally:
        host.remove_plugin("always")
    assert err.value.row_id is None and "at row" not in str(err.value)
    assert "no model configured" in open(err.value.traceback_file).read()


def test_debug_flag_prints_the_traceback(tmp_path):
    import subprocess
    import sys
    import textwrap

    (tmp_path / "pl").mkdir()
    (tmp_path / "pl" / "statute_kit.py").write_text(textwrap.dedent('''
        from workbench.components import Cleaner
        from workbench.hookspecs import hookimpl
        from workbench.ledger import StepResult

        class StatuteCheck(Cleaner):
            name = "statute-check"
            description = "Look up each row's statute"
            def run(self, table, ctx):
                {}["statute"]
                return StepResult(table)

        @hookimpl
        def register_cleaners(register):
            register(StatuteCheck)
    '''))
    data = tmp_path / "chats.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    (tmp_path / "run.toml").write_text(f'[run]\nname = "dbg"\n[[steps]]\nkind = "load"\noptions = {{path = "{data}"}}\n'
                                       '[[steps]]\nkind = "clean"\ncomponent = "statute-check"\n')
    base = [sys.executable, "-m", "workbench", "--plugins-dir", str(tmp_path / "pl")]
    plain = subprocess.run(base + ["run", "run.toml"], capture_output=True, text=True, cwd=tmp_path)
    debug = subprocess.run(base + ["--debug", "run", "run.toml"], capture_output=True, text=True, cwd=tmp_path)
    assert plain.returncode == debug.returncode == 1
    assert "Traceback" not in plain.stderr and "errors/02-clean-statute-check.txt" in plain.stderr
    assert "Traceback" in debug.stderr and '{}["statute"]' in debug.stderr


def test_source_edit_without_version_bump_is_not_silently_reused(tmp_path, capsys):
    plugin = tmp_path / "pl" / "shouty.py"
    plugin.parent.mkdir()
    code = '''
from workbench.components import Cleaner
from workbench.hookspecs import hookimpl
from workbench.ledger import StepResult
import polars as pl

class Shout(Cleaner):
    name = "shout"
    description = "Marks every row"
    version = "1"
    def run(self, table, ctx):
        return StepResult(table.with_columns(pl.lit("MARK").alias("origin")))

@hookimpl
def register_cleaners(register):
    register(Shout)
'''
    plugin.write_text(code)
    rf = parse_runfile({"run": {"name": "edit"}, "steps": [
        {"kind": "seed", "component": "seed-rows"}, {"kind": "clean", "component": "shout"}]})

    def run_with_fresh_host():
        h = Host(tmp_path / "pl", load_third_party=True)
        h.add_plugin(TestPlugin(), "engine-test")
        assert h.plugins["shouty"].local
        return execute(rf, host=h)

    first = run_with_fresh_host()
    assert set(first.table["origin"]) == {"MARK"}
    assert [s.reused for s in run_with_fresh_host().steps] == [True, True]
    plugin.write_text(code.replace('"MARK"', '"EDITED"'))
    capsys.readouterr()
    edited = run_with_fresh_host()
    assert [s.reused for s in edited.steps] == [True, False]
    assert set(edited.table["origin"]) == {"EDITED"}
    assert "code of 'shout' changed under the same version '1'" in capsys.readouterr().err
    assert edited.steps[1].manifest["source_hash"] != first.steps[1].manifest["source_hash"]


class Tidy(Cleaner):
    """Changes rows 0 and 1 (records them), drops row 2, rejects one candidate."""

    name = "tidy"
    description = "Rewrite two answers, drop one row"

    def run(self, table, ctx):
        ledger = Ledger(self.name)
        out = []
        for row in table.iter_rows(named=True):
            if row["id"] == "r2":
                ledger.drop(row["id"], "too short", row=row)
                continue
            if row["id"] in ("r0", "r1"):
                ledger.change(row["id"], "tidied", row=row, detail={"chars": 3})
                row = row | {"messages": [m | {"content": m["content"].upper()} for m in row["messages"]]}
            out.append(row)
        ledger.reject("r3", "no better wording", detail={"tries": 2})
        return StepResult(schema.from_rows(out), ledger.frame())


def test_restore_brings_back_changed_rows_as_they_were_and_dropped_rows(host, tmp_path, capsys):
    from workbench.cli import main

    class Plugin:
        @hookimpl
        def register_cleaners(self, register):
            register(Tidy)

    host.add_plugin(Plugin(), "tidy-kit")
    try:
        execute(parse_runfile({"run": {"name": "tidy"}, "steps": [
            {"kind": "seed", "component": "seed-rows", "options": {"rows": 5}}, {"kind": "clean", "component": "tidy"}]}),
            host=host)
        assert main(["runs", "show", "tidy"]) == 0
        shown = capsys.readouterr().out
        assert "rejected 1" in shown and "rejected     1  no better wording" in shown
        assert main(["runs", "ledger", "tidy", "--json"]) == 0
        entries = json.loads(capsys.readouterr().out)
        assert {"chars": 3} in [e["detail"] for e in entries] and {"tries": 2} in [e["detail"] for e in entries]
        back = tmp_path / "back.jsonl"
        assert main(["runs", "restore", "tidy", "--step", "2", "-o", str(back), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) | {"output": None} == {"restored": 3, "dropped": 1, "changed": 2,
                                                                        "output": None}
        restored = {json.loads(line)["id"]: json.loads(line) for line in back.read_text().splitlines()}
        assert restored["r0"]["messages"][0]["content"] == "question 0"  # the text before the change
        assert set(restored) == {"r0", "r1", "r2"}
        again = execute(parse_runfile({"run": {"name": "tidy"}, "steps": [
            {"kind": "seed", "component": "seed-rows", "options": {"rows": 5}}, {"kind": "clean", "component": "tidy"},
            {"kind": "load", "options": {"path": str(back), "append": True, "replace": True}}]}), host=host)
    finally:
        host.remove_plugin("tidy-kit")
    load = again.steps[2].manifest
    assert (load["added"], load["changed"], load["rows_out"]) == (1, 2, 5)
    table = {r["id"]: r for r in again.table.iter_rows(named=True)}
    assert table["r0"]["messages"][0]["content"] == "question 0" and table["r4"]["messages"][0]["content"] == "question 4"
