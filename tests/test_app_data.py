"""AppTest of the Data page: open a file, browse, search, filter, statistics, validation; 100k rows timing."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_app_common import click_and_settle

from workbench import schema
from workbench.ui_support import diffs, keys
from workbench.ui_support.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "data.py")


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_without_data_the_page_says_what_to_do():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "Open a dataset" in at.info[0].value


def test_open_browse_search_filter_and_validate(tmp_path, sample_dir):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[keys.RUNS_DIR] = str(tmp_path / "runs")
    at.run()
    at.radio(key="data_source").set_value("A file on disk").run()
    at.text_input(key="data_path").set_value(str(sample_dir / "support.jsonl"))
    at.button(key="data_open").click().run()
    assert not at.exception
    total = int(at.markdown[0].value.split("**")[1].replace(",", ""))
    assert total > 300
    at.text_input(key="data_search").set_value("refund").run()
    searched = int(at.markdown[0].value.split("**")[1].replace(",", ""))
    assert 0 < searched < total
    label = at.multiselect(key="data_filter_label").options[0]
    at.multiselect(key="data_filter_label").set_value([label]).run()
    assert int(at.markdown[0].value.split("**")[1].replace(",", "")) <= searched
    assert not at.exception
    assert any(m.label == "rows" for m in at.metric)  # statistics tab
    problems = next(d.value for d in at.dataframe if "hint" in d.value.columns)
    assert len(problems) > 0 and {"line", "code"} <= set(problems.columns)
    pipeline = at.session_state[keys.PIPELINE]
    assert pipeline.steps[0]["options"]["path"] == str((sample_dir / "support.jsonl").resolve())


def test_a_missing_file_is_a_readable_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(tmp_path / "runs")
    at.run()
    at.radio(key="data_source").set_value("A file on disk").run()
    at.text_input(key="data_path").set_value(str(tmp_path / "nope.jsonl"))
    at.button(key="data_open").click().run()
    assert not at.exception
    assert "nope.jsonl" in at.error[0].value


def _open_on_disk(at: AppTest, path: Path) -> None:
    at.radio(key="data_source").set_value("A file on disk").run()
    at.text_input(key="data_path").set_value(str(path))
    at.button(key="data_open").click().run()
    assert not at.exception


def test_a_path_outside_the_data_roots_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("WORKBENCH_DATA_ROOTS", raising=False)
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n')
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(tmp_path / "runs")
    at.run()
    _open_on_disk(at, outside)
    assert "outside the data roots" in at.error[0].value and "WORKBENCH_DATA_ROOTS" in at.error[0].value
    assert keys.TABLE_PATH not in at.session_state
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(tmp_path))  # the same file once its folder is a data root
    at.button(key="data_open").click().run()
    assert not at.error and at.session_state[keys.TABLE_PATH]


def test_new_file_clears_filters_and_quarantine_is_announced(tmp_path, monkeypatch, sample_dir):
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(tmp_path))
    broken = tmp_path / "broken.jsonl"
    good = sample_dir.joinpath("support.jsonl").read_text().splitlines()[:5]
    broken.write_text("\n".join([*good, "{not json", '{"messages": []}']) + "\n")
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[keys.RUNS_DIR] = str(tmp_path / "runs")
    at.run()
    _open_on_disk(at, sample_dir / "support.jsonl")
    assert "5 of 373 records were quarantined" in at.warning[0].value  # the sample plants broken records
    table_view = next(d.value for d in at.dataframe if "id" in d.value.columns)
    assert {"first user turn", "last assistant turn"} <= set(table_view.columns) and "messages" not in table_view
    assert not table_view["first user turn"].str.contains("You are").any(), "the system prompt is not the question"
    at.text_input(key="data_search").set_value("refund").run()
    at.multiselect(key="data_filter_label").set_value(at.multiselect(key="data_filter_label").options[:1]).run()
    _open_on_disk(at, broken)
    assert at.text_input(key="data_search").value == "" and at.multiselect(key="data_filter_label").value == []
    assert "**5** rows match" in at.markdown[0].value
    assert "2 of 7 records were quarantined" in at.warning[0].value


def _table_file(tmp_path: Path, n: int) -> Path:
    rows = [{"id": f"r{i}", "label": ("refund", "shipping")[i % 2], "split": "train",
             "messages": [{"role": "user", "content": f"where is order {i}?"},
                          {"role": "assistant", "content": "It ships tomorrow."}]} for i in range(n)]
    path = tmp_path / f"rows-{n}.parquet"
    schema.from_rows(rows).write_parquet(path)
    return path


def _page_seconds(tmp_path: Path, path: Path, rows: int) -> float:
    """One full run of the Data page on ``path`` (a fresh session: nothing carried over), in seconds."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(tmp_path / "runs")
    at.session_state[keys.TABLE_PATH] = str(path)
    at.session_state[keys.PIPELINE] = Pipeline(steps=[{"kind": "load", "options": {"path": str(path)}}])
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    assert not at.exception
    assert f"**{rows:,}** rows match" in at.markdown[0].value
    return seconds


def test_first_page_of_100k_rows_under_two_seconds(tmp_path):
    """The page stays lazy: 100,000 rows open in under 2 s and cost little more than 1,000 rows.

    The first run of a page in a process pays one-time imports (over a second, more on a cold or busy
    machine, and none at all if an earlier test ran the page), so it is a warm-up and not timed. The
    two sizes then run interleaved, three times each, and the best of each counts: a busy machine
    slows single runs more than the best of three, and slows both sizes."""
    small, big = _table_file(tmp_path, 1_000), _table_file(tmp_path, 100_000)
    _page_seconds(tmp_path, small, 1_000)  # warm-up
    times: dict[int, list[float]] = {1_000: [], 100_000: []}
    for _ in range(3):
        for rows, path in ((100_000, big), (1_000, small)):
            times[rows].append(_page_seconds(tmp_path, path, rows))
    best_big, best_small = min(times[100_000]), min(times[1_000])
    print(f"AppTest: Data page (first page, statistics and charts), best of 3: 100,000 rows in {best_big:.2f} s, "
          f"1,000 rows in {best_small:.2f} s")
    assert best_big < 2.0, f"the Data page took {best_big:.2f} s with 100,000 rows: {times}"
    # measured 0.4 s against 0.3 s (1.3-1.6x, more on a busy machine: polars' threads lose more than the page's
    # own Python); a page that rendered every row timed out, one that merely walked every row in Python took 2.8x
    assert best_big < 3 * best_small, f"100x the rows made the Data page {best_big / best_small:.1f}x slower: {times}"


def _audit_page(tmp_path: Path, rows: list[dict]) -> AppTest:
    """The Data page browsing a table of ``rows``, its Audit clicked and the audit task waited for."""
    path = tmp_path / "audited.parquet"
    schema.from_rows(rows).write_parquet(path)
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[keys.RUNS_DIR] = str(tmp_path / "runs")
    at.session_state[keys.TABLE_PATH] = str(path)
    at.session_state[keys.PIPELINE] = Pipeline(steps=[{"kind": "load", "options": {"path": str(path)}}])
    at.run()
    click_and_settle(at, "data_audit_run")
    assert not at.exception
    return at


def _shown(markdown: str) -> str:
    """The text a reader sees of escaped Markdown (each escaped character without its backslash)."""
    assert not re.search(r"(?<!\\)[*<>_`\[]", markdown), f"unescaped markup in {markdown!r}"
    return re.sub(r"\\(.)", r"\1", markdown)


def test_audit_tab_flags_a_planted_skew_and_escapes_data_text(tmp_path):
    from test_bias_audit import crafted

    rows = crafted(planted=True).to_dicts()
    for r in rows:  # the rare label carries Markdown and HTML: shown literally, never as markup
        if r["label"] == "warranty_claim":
            r["label"] = "**warranty**<b>claim</b>"
    rows[2]["messages"][0]["content"] = "Where is **parcel** <i>7</i>?"  # no age; the Conversations tab shows it literally
    at = _audit_page(tmp_path, rows)
    assert "**user**: " + diffs.text_markdown("Where is **parcel** <i>7</i>?") in [m.value for m in at.markdown]
    warnings = [_shown(w.value) for w in at.warning]
    assert any(w.startswith("refusals are present only when the user mentions age: over_65 (80 of 80 answers")
               for w in warnings), warnings
    assert "label '**warranty**<b>claim</b>' holds 2.1% of the labelled rows (5 of 240), under the minimum share " \
           "of 5.0%" in warnings
    tables = [d.value for d in at.dataframe]
    coverage = next(t for t in tables if list(t.columns) == ["label", "rows"])
    assert dict(zip(coverage["label"], coverage["rows"]))["**warranty**<b>claim</b>"] == 5
    tests = next(t for t in tables if "adjusted" in t.columns)
    refusal = tests[(tests["group"] == "over_65") & (tests["tone / label"] == "refusal")]
    assert float(refusal["adjusted"].iloc[0]) < 1e-6

    # a share above every label's flags each of the 5 labels once the table is audited again
    at.number_input(key="data_audit_share").set_value(30.0).run()
    assert "audit again to apply 30.0%" in at.info[0].value
    click_and_settle(at, "data_audit_run")
    assert sum("under the minimum share of 30.0%" in _shown(w.value) for w in at.warning) == 5


def test_audit_tab_stays_quiet_on_a_balanced_table(tmp_path):
    from test_bias_audit import crafted

    at = _audit_page(tmp_path, crafted(planted=False).to_dicts())
    assert not at.warning
    summary = next(m.value for m in at.markdown if "rows audited" in m.value)
    assert _shown(summary).startswith("240 rows audited; 0 flag(s)")
    tests = next(d.value for d in at.dataframe if "adjusted" in d.value.columns)
    assert len(tests) > 0 and (tests["adjusted"].astype(float) > 0.05).all()
