"""ui_support: generated forms, pipeline <-> run file, paging, statistics, review, evaluation views."""

from __future__ import annotations

import time
from typing import ClassVar, Literal

import polars as pl
import pytest
from pydantic import BaseModel, Field

from workbench import schema
from workbench.components import Cleaner, Options, form
from workbench.errors import WorkbenchError
from workbench.runtime.runfile import load_runfile
from workbench.ui_support import forms, review, stats, table
from workbench.ui_support.pipeline import Pipeline, execute, latest_output, open_run


class Inner(BaseModel):
    depth: int = 2


class ThirdPartyOptions(Options):
    flag: bool = Field(default=True, description="a switch")
    count: int = Field(default=3, ge=1, description="how many")
    ratio: float = Field(default=0.5, description="a share")
    mode: Literal["a", "b"] = Field(default="a", description="a choice")
    roles: list[Literal["user", "assistant"]] = Field(default=["user"], description="roles")
    words: list[str] = Field(default_factory=lambda: ["x", "y"], description="words")
    limit: int | None = Field(default=None, description="optional")
    inner: Inner = Field(default_factory=Inner, description="nested")


class ThirdParty(Cleaner):
    name = "third-party"
    description = "a component the UI has never seen"
    Options = ThirdPartyOptions


def test_form_fields_cover_every_option_of_an_unknown_component():
    fields = {f.name: f for f in forms.form_fields(ThirdParty)}
    assert {n: f.widget for n, f in fields.items()} == {
        "flag": "checkbox", "count": "int", "ratio": "float", "mode": "select", "roles": "multiselect",
        "words": "lines", "limit": "text", "inner": "keyvalue"}
    assert fields["count"].minimum == 1 and fields["count"].help == "how many"
    assert fields["words"].initial() == "x\ny" and fields["inner"].initial() == [{"key": "depth", "value": "2"}]


def test_to_options_converts_widget_values_and_reports_errors_at_their_field():
    rows = [{"key": "depth", "value": "5"}, {"key": " ", "value": "ignored"}]
    options = forms.to_options(ThirdParty, {"words": "a\n b \n", "limit": "", "inner": rows, "count": 4})
    assert options["words"] == ["a", "b"] and options["limit"] is None and options["inner"] == {"depth": 5}
    assert forms.changed_options(ThirdParty, options) == {"count": 4, "words": ["a", "b"], "inner": {"depth": 5}}
    with pytest.raises(forms.OptionsError, match="count") as caught:
        forms.to_options(ThirdParty, {"count": 0, "limit": "x"})
    assert set(caught.value.fields) == {"count", "limit"} and "greater than or equal to 1" in caught.value.fields["count"]
    assert "highlighted" not in caught.value.hint


class Marked(Options):
    form_layout: ClassVar[dict[str, dict]] = {"rank": form("lora", when={"method": "lora"}), "rate": form(scale="log")}

    method: Literal["lora", "full"] = "lora"
    rank: int = Field(default=8, ge=1)
    rate: float = Field(default=2e-4, gt=0, lt=1)
    grid: dict[str, list[float]] = Field(default_factory=dict, json_schema_extra=form("advanced", advanced=True))
    labels: dict[str, str] = Field(default_factory=dict)


class MarkedComponent(Cleaner):
    name = "marked"
    Options = Marked


def test_form_hints_group_hide_and_scale_fields():
    fields = {f.name: f for f in forms.form_fields(MarkedComponent)}
    assert (fields["rank"].group, fields["rank"].when) == ("lora", {"method": ["lora"]})
    assert fields["rank"].applies({"method": "lora"}) and not fields["rank"].applies({"method": "full"})
    assert fields["grid"].widget == "keyvalue" and fields["grid"].advanced and fields["grid"].group == "advanced"
    rate = fields["rate"]
    assert rate.widget == "rate" and 2e-4 in rate.choices_around(2e-4) and 3.3e-4 in rate.choices_around(3.3e-4)
    assert min(rate.choices_around(2e-4)) > 0 and max(rate.choices_around(2e-4)) < 1  # gt=0, lt=1: bounds excluded
    grid = forms.to_options(MarkedComponent, {"grid": [{"key": "rate", "value": "1e-4, 2e-4"}]})["grid"]
    assert grid == {"rate": [1e-4, 2e-4]}
    labels = forms.to_options(MarkedComponent, {"labels": [{"key": "code", "value": "123"}]})["labels"]
    assert labels == {"code": "123"}, "a dict of text keeps a number-looking value as text"


def test_form_layout_naming_an_unknown_option_is_an_error():
    class Typo(Options):
        form_layout: ClassVar[dict[str, dict]] = {"rnak": form("lora")}
        rank: int = 8

    with pytest.raises(ValueError, match="rnak"):
        Typo.model_json_schema()


def test_pipeline_stages_keep_order_and_save_a_replayable_run_file(tmp_path, sample_dir):
    p = Pipeline(name="ui-test", base_dir=sample_dir, steps=[{"kind": "load", "options": {"path": "support.jsonl"}}])
    p.set_stage("train", [{"kind": "train", "options": {"max_steps": 1}}])
    p.set_stage("clean", [{"kind": "clean", "component": "whitespace"}])
    p.add_restore(tmp_path / "restored.jsonl")
    assert [s["kind"] for s in p.steps] == ["load", "clean", "load", "train"]
    assert [s["kind"] for s in p.upto("augment").steps] == ["load", "clean", "load"]
    saved = p.save(tmp_path / "elsewhere" / "run.toml")
    rf = load_runfile(saved)
    assert rf.steps[0].options["path"] == str((sample_dir / "support.jsonl").resolve())
    assert rf.steps[1].component == "whitespace" and rf.steps[2].label == "restore"


def test_a_ui_run_reopens_as_the_same_pipeline(tmp_path, sample_dir):
    p = Pipeline(name="reopen", base_dir=sample_dir, steps=[{"kind": "load", "options": {"path": "support.jsonl"}},
                                                           {"kind": "clean", "component": "whitespace"}])
    run_dir = execute(p, tmp_path / "runs")
    again = open_run(run_dir)
    assert again.steps == p.runfile().model_dump(exclude_none=True)["steps"]
    assert again.base_dir == sample_dir and latest_output(run_dir).name == "output.parquet"


@pytest.fixture(scope="module")
def big_parquet(tmp_path_factory):
    rows = [{"id": f"r{i}", "label": ("refund", "shipping", "other")[i % 3], "split": "train", "origin": "load",
             "messages": [{"role": "user", "content": f"where is order {i}?"},
                          {"role": "assistant", "content": "It ships tomorrow, tracking follows by email."}]}
            for i in range(100_000)]
    path = tmp_path_factory.mktemp("big") / "big.parquet"
    schema.from_rows(rows).write_parquet(path)
    return path


def test_first_page_of_100k_rows_is_fast(big_parquet):
    started = time.perf_counter()
    first = table.page(big_parquet)
    seconds = time.perf_counter() - started
    assert first.total == 100_000 and first.rows.height == 25 and first.pages == 4000
    assert seconds < 2.0, f"first page took {seconds:.2f} s"


def test_search_role_and_filters_combine(big_parquet):
    found = table.page(big_parquet, table.Query("ORDER 9999", role="user", filters={"label": ["refund"]}), 1, 10)
    assert set(found.rows["label"]) == {"refund"} and found.total == 5  # 9999, 99990, 99993, 99996, 99999 (i % 3 == 0)
    assert table.page(big_parquet, table.Query("order 5", role="assistant")).total == 0
    assert sorted(table.choices(big_parquet, "label")) == ["other", "refund", "shipping"]


def test_statistics(big_parquet):
    d = stats.describe(big_parquet)
    assert d["summary"]["rows"] == 100_000 and d["summary"]["mean_turns"] == 2.0
    assert {"user", "assistant"} <= set(d["histogram"].columns)
    assert d["turns"].to_dicts() == [{"turns": 2, "conversations": 100_000}]


def test_review_rates_edits_and_curated_table():
    base = schema.from_rows([{"id": "a", "messages": [{"role": "user", "content": "hi"}]}])
    gen = schema.from_rows([{"id": f"v{i}", "source_id": "a", "origin": "typos",
                             "messages": [{"role": "user", "content": "hey"}, {"role": "assistant", "content": "yo"}]}
                            for i in range(4)])
    msgs = gen["messages"].to_list()[0]
    assert review.prompt_reference(msgs) == ("hey", "yo")
    assert review.decide(True, msgs, "hey", "yo") == "accept" and review.decide(False, msgs) == "reject"
    decisions = {"v0": "accept", "v1": "reject", "v3": review.decide(True, msgs, "hey", "hello")}
    assert decisions["v3"] == {"reference": "hello"}
    assert review.rates(decisions, 4, filtered_out=2) == {"accepted": 2, "edited": 1, "rejected": 1, "pending": 1,
                                                          "acceptance": 0.667, "filtered_out": 2}
    assert review.rates_by_origin(gen, decisions).row(0, named=True) == {
        "origin": "typos", "generated": 4, "accepted": 2, "edited": 1, "rejected": 1, "pending": 1, "acceptance": 0.667}
    table, ledger = review.apply(base, gen, decisions)
    assert table["id"].to_list() == ["a", "v0", "v3"]
    assert table.filter(pl.col("id") == "v3")["messages"].to_list()[0][-1]["content"] == "hello"
    assert ledger.select("row_id", "action").rows() == [("v0", "added"), ("v1", "rejected"), ("v2", "rejected"),
                                                         ("v3", "added")]


def test_diff_markdown_escapes_row_text():
    from workbench.runtime.preview import word_diff
    from workbench.ui_support.diffs import diff_markdown, text_markdown

    md = diff_markdown(word_diff("user: pay $5 *now*", "user: pay [LINK](x) now"))
    assert md == "user\\: pay :red[~~\\$5~~] :green[**\\[LINK\\]\\(x\\)**] :red[~~\\*now\\*~~] :green[**now**]"
    assert text_markdown("a\n<b>") == "a  \n\\<b\\>"


def test_turn_length_histogram_uses_doubling_bins():
    lengths = pl.DataFrame({"role": ["user"] * 6 + ["assistant"], "tokens": [0, 1, 2, 3, 7, 900, 40]})
    hist = stats.histogram(lengths)
    assert hist["tokens"].to_list() == ["0-1", "2", "3-4", "5-8", "33-64", "513-1024"]
    assert hist["user"].to_list() == [2, 1, 1, 1, 0, 1] and hist["assistant"].sum() == 1


def test_data_roots_confine_paths_and_loopback_is_told_apart(tmp_path):
    from workbench.ui_support import exposure

    inside = tmp_path / "work" / "data.jsonl"
    inside.parent.mkdir()
    inside.write_text("")
    roots = exposure.data_roots({"WORKBENCH_DATA_ROOTS": str(tmp_path / "extra")}, cwd=tmp_path / "work")
    assert roots == [(tmp_path / "work").resolve(), (tmp_path / "extra").resolve()]
    assert exposure.confine(inside, roots) == inside.resolve()
    (tmp_path / "work" / "link").symlink_to("/etc")
    for outside in ("/etc/hostname", tmp_path / "work" / "link" / "hostname", tmp_path / "work" / ".." / "x.jsonl"):
        with pytest.raises(WorkbenchError, match="outside the data roots"):
            exposure.confine(outside, roots)
    assert exposure.is_loopback("127.0.0.1") and exposure.is_loopback("localhost") and exposure.is_loopback("::1")
    assert not any(exposure.is_loopback(a) for a in ("", None, "0.0.0.0", "192.168.1.4", "myhost"))
