"""`import workbench` is the plugin API; workbench.testing runs a component as a run would."""

from __future__ import annotations

import subprocess
import sys

import pytest

import workbench
from workbench.testing import chat_rows, run_component, scratch_context, tiny_model

CONTRACT = ["hookimpl", "Component", "Step", "Reader", "Writer", "Cleaner", "Augmenter", "ScenarioGenerator",
            "Trainer", "Metric", "Options", "AugmentOptions", "augment_selection", "variant_row", "StepResult", "Ledger", "StepContext", "MetricResult",
            "RowError", "WorkbenchError", "PluginError", "InvalidOptions", "Record", "Problem", "problem"]


def test_every_contract_name_is_an_attribute_of_workbench():
    from workbench import components, context, errors, evaluation, hookspecs, ledger

    assert workbench.hookimpl is hookspecs.hookimpl
    assert workbench.Cleaner is components.Cleaner and workbench.StepContext is context.StepContext
    assert workbench.StepResult is ledger.StepResult and workbench.RowError is errors.RowError
    assert workbench.MetricResult is evaluation.result.MetricResult
    for name in CONTRACT:
        assert getattr(workbench, name) is not None and name in dir(workbench) and name in workbench.__all__
    with pytest.raises(AttributeError, match="no attribute 'Cleanr'"):
        workbench.Cleanr  # noqa: B018


def test_import_workbench_stays_light():
    code = ("import sys, workbench; workbench.Cleaner; workbench.hookimpl; "
            "print(sorted(m for m in ('torch', 'transformers', 'polars', 'textattack') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_read_file_reads_through_the_loaders_checks(tmp_path):
    from workbench.plugins.formats.chat import OpenAIChatReader
    from workbench.testing import read_file

    path = tmp_path / "chats.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
                    '{"messages": [{"role": "user", "content": "hi"}]}\n')
    result = read_file(OpenAIChatReader, path)
    assert result.table.height == 1 and [q.codes for q in result.quarantined] == ["no_assistant_message"]
    from workbench.plugins.cleaners.dedup import ExactDedup

    with pytest.raises(workbench.WorkbenchError, match="read_file reads with readers"):
        read_file(ExactDedup, path)  # the wrong family on purpose


def test_run_component_runs_a_builtin_cleaner_with_options():
    from workbench.plugins.cleaners.dedup import ExactDedup

    rows = chat_rows(["Hi", "hi ", "bye"], answers=["same", "same", "other"])
    result = run_component(ExactDedup, rows, on="user")
    assert result.table["id"].to_list() == ["r0", "r2"]
    assert result.counts()["dropped"] == 1


def test_run_component_checks_what_the_engine_checks():
    class Loses(workbench.Cleaner):
        name = "loses-rows"
        description = "Drops a row without recording it"

        def run(self, table, ctx: workbench.StepContext) -> workbench.StepResult:
            return workbench.StepResult(table.head(1))

    with pytest.raises(workbench.WorkbenchError, match="does not balance"):
        run_component(Loses, chat_rows(["a", "b"]))
    from workbench.plugins.cleaners.dedup import ExactDedup

    with pytest.raises(workbench.WorkbenchError) as err:
        run_component(ExactDedup, chat_rows(["a"]), onn="user")
    assert "option 'onn': unknown option" in str(err.value) and "\n" not in str(err.value)


def test_run_component_computes_a_metric():
    import polars as pl

    from workbench.plugins.metrics.text import ExactMatch

    frame = pl.DataFrame({"prediction": ["Answer 0!", "nope"], "reference": ["answer 0", "answer 1"]})
    result = run_component(ExactMatch, frame, normalise=True)
    assert isinstance(result, workbench.MetricResult) and result.per_example == [1.0, 0.0]


def test_scratch_context_and_tiny_model(tmp_path):
    ctx = scratch_context(tmp_path / "s", seed=5)
    assert ctx.seed == 5 and ctx.step_dir == tmp_path / "s"
    folder = tiny_model(tmp_path / "tiny")
    assert (folder / "config.json").exists() and (folder / "tokenizer.json").exists()
    assert tiny_model(tmp_path / "tiny") == folder


def test_kind_spellings_accept_family_and_step_names():
    from workbench.runtime.discovery import Host
    from workbench.runtime.runfile import parse_runfile

    rf = parse_runfile({"run": {"name": "k"}, "steps": [{"kind": "scenario", "component": "scenario-templates"},
                                                        {"kind": "cleaner", "component": "exact-dedup"}]})
    assert [s.kind for s in rf.steps] == ["scenarios", "clean"]
    assert "kind = \"scenarios\"" in rf.to_toml()
    registry = Host(load_third_party=False).registry
    assert registry.get("scenarios", "scenario-templates") is registry.get("scenario", "scenario-templates")
    assert registry.names("clean") == registry.names("cleaner")
