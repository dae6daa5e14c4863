"""One test per hook: a tiny plugin implementing it is loaded and its component works."""

from __future__ import annotations

import polars as pl
import pytest

from workbench import components, schema
from workbench.context import scratch_context
from workbench.hookspecs import hookimpl
from workbench.ledger import Ledger, StepResult
from workbench.runtime.discovery import Host

ROWS = schema.from_rows([
    {"id": "a", "label": "x", "split": "train",
     "messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"}]},
])


@pytest.fixture
def host():
    return Host(load_third_party=False)


def load(host: Host, plugin: object, kind: str, name: str):
    host.add_plugin(plugin, "hook-test")
    try:
        assert host.plugins["hook-test"].components == [{"kind": kind, "name": name}]
        return host.registry.get(kind, name)
    finally:
        host.remove_plugin("hook-test")


def test_register_cleaners(host):
    class Strip(components.Cleaner):
        name, description = "strip-test", "Strip user turns"

        def run(self, table, ctx):
            ledger = Ledger(self.name)
            ledger.change("a", "stripped")
            return StepResult(table, ledger.frame())

    class P:
        @hookimpl
        def register_cleaners(self, register):
            register(Strip)

    result = load(host, P(), "cleaner", "strip-test")().run(ROWS, scratch_context())
    assert result.counts()["changed"] == 1


def test_register_augmenters(host):
    class Twice(components.Augmenter):
        name, description = "twice-test", "Duplicate rows as variants"

        def run(self, table, ctx):
            variants = table.with_columns(pl.col("id") + "~2", pl.lit(self.name).alias("origin"))
            ledger = Ledger(self.name)
            ledger.add("a~2", "variant")
            return StepResult(pl.concat([table, variants]), ledger.frame())

    class P:
        @hookimpl
        def register_augmenters(self, register):
            register(Twice)

    out = load(host, P(), "augmenter", "twice-test")().run(ROWS, scratch_context()).table
    assert out["source_id"].to_list() == ["a", "a"] and out["origin"].to_list() == [None, "twice-test"]


def test_register_scenario_generators(host):
    class Hello(components.ScenarioGenerator):
        name, description = "hello-test", "One ambiguous greeting"

        def run(self, table, ctx):
            row = schema.from_rows([{"id": "s", "scenario": "ambiguity", "expected_behavior": "ask_clarification",
                                     "messages": [{"role": "user", "content": "hi"}]}])
            ledger = Ledger(self.name)
            ledger.add("s", "generated")
            return StepResult(pl.concat([table, row]), ledger.frame())

    class P:
        @hookimpl
        def register_scenario_generators(self, register):
            register(Hello)

    out = load(host, P(), "scenario", "hello-test")().run(ROWS, scratch_context()).table
    assert out.filter(pl.col("id") == "s")["expected_behavior"][0] == "ask_clarification"


def test_register_trainers(host, tmp_path):
    class Memo(components.Trainer):
        name, description = "memo-test", "Remember the labels"

        def run(self, table, ctx):
            (ctx.step_dir / "labels.txt").write_text(",".join(table["label"]))
            return StepResult(table, artifacts={"model": "labels.txt"})

    class P:
        @hookimpl
        def register_trainers(self, register):
            register(Memo)

    result = load(host, P(), "trainer", "memo-test")().run(ROWS, scratch_context(tmp_path))
    assert (tmp_path / result.artifacts["model"]).read_text() == "x"


def test_register_steps(host):
    class Count(components.Step):
        name, description = "count-test", "Count rows"

        def run(self, table, ctx):
            return StepResult(table, stats={"rows": table.height})

    class P:
        @hookimpl
        def register_steps(self, register):
            register(Count)

    assert load(host, P(), "step", "count-test")().run(ROWS, scratch_context()).stats == {"rows": 1}


def test_register_readers(host, tmp_path):
    class Lines(components.Reader):
        name, description, extensions = "lines-test", "One user turn per line", (".lines",)

        def read(self, path, **kwargs):
            return [line for line in open(path, encoding="utf-8").read().splitlines() if line]

    class P:
        @hookimpl
        def register_readers(self, register):
            register(Lines)

    (tmp_path / "a.lines").write_text("one\ntwo\n")
    assert load(host, P(), "reader", "lines-test")().read(tmp_path / "a.lines") == ["one", "two"]


def test_register_writers(host, tmp_path):
    class Ids(components.Writer):
        name, description, extensions = "ids-test", "Write the ids, one per line", (".ids",)

        def write(self, table, path):
            open(path, "w", encoding="utf-8").write("\n".join(table["id"]))

    class P:
        @hookimpl
        def register_writers(self, register):
            register(Ids)

    load(host, P(), "writer", "ids-test")().write(ROWS, tmp_path / "o.ids")
    assert (tmp_path / "o.ids").read_text() == "a"


def test_register_metrics(host):
    class Length(components.Metric):
        name, description, requires = "length-test", "Mean answer length in words", ("prediction",)

        def compute(self, frame):
            from workbench.evaluation.result import MetricResult

            lengths = frame["prediction"].str.split(" ").list.len().cast(float).to_list()
            return MetricResult(self.name, sum(lengths) / len(lengths), lengths)

    class P:
        @hookimpl
        def register_metrics(self, register):
            register(Length)

    metric = load(host, P(), "metric", "length-test")()
    result = metric.compute(pl.DataFrame({"prediction": ["a b", "a b c d"]}))
    assert (result.score, result.per_example) == (3.0, [2.0, 4.0])
