"""Hostile input: clear one-line errors, no hang, no crash; counts always add up."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import WorkbenchError
from workbench.io import load_table


@pytest.fixture(autouse=True)
def _formats_host(monkeypatch):
    """Only the plugins under test: other families' work in progress must not break these tests."""
    monkeypatch.setattr("workbench.runtime.discovery.DEFAULT_PLUGINS", ("workbench.plugins.formats", "workbench.plugins.steps"))


GOOD = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})


@pytest.mark.parametrize("make,pattern", [
    (lambda d: d / "missing.jsonl", "no such file"),
    (lambda d: d, "is a folder"),
    (lambda d: _write(d / "empty.jsonl", b""), "is empty"),
    (lambda d: _write(d / "blob.jsonl", bytes(range(256)) * 40), "binary file"),
    (lambda d: _write(d / "blob.csv", bytes(range(32)) * 40 + b"a,b\n"), "binary file"),
    (lambda d: _write(d / "fake.parquet", b"PAR1 not really"), "not a readable Parquet file"),
])
def test_unusable_files_give_one_line_and_a_hint(make, pattern, tmp_path):
    with pytest.raises(WorkbenchError, match=pattern) as info:
        load_table(make(tmp_path))
    assert "\n" not in str(info.value) and info.value.hint


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_100_mb_single_line_is_quarantined_quickly_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as fh:
        fh.write(b'{"messages": [{"role": "user", "content": "')
        block = b"x" * (1 << 20)
        for _ in range(100):
            fh.write(block)
        fh.write(b'"}]}\n' + GOOD.encode() + b"\n")
    started = time.monotonic()
    result = load_table(path)
    assert time.monotonic() - started < 30
    assert [(p.line, p.code) for p in result.problems] == [(1, "line_too_long")]
    assert result.table.height == 1 and len(result.quarantined) == 1
    assert len(result.quarantined[0].raw) < 2000


def test_json_array_broken_midway_keeps_items_before_the_break(tmp_path):
    path = tmp_path / "broken.json"
    item = json.dumps({"prompt": "p", "response": "r"})
    path.write_text(f"[\n{item},\n{item},\n{{oops}},\n{item}\n]\n")
    result = load_table(path)
    assert result.format == "prompt-response" and result.table.height == 2
    assert [(q.line, q.codes) for q in result.quarantined] == [(4, "invalid_json")]


def test_deeply_nested_json_is_invalid_not_a_crash(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text(GOOD + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    result = load_table(path, format="openai-chat")
    assert result.rows_read == 2 and result.table.height == 1
    assert [(q.line, q.codes) for q in result.quarantined] == [(2, "invalid_json")]


JSONL_PIECES = st.one_of(
    st.just(GOOD), st.just(""), st.just("{"), st.just("null"), st.just('{"messages": 3}'),
    st.just('{"messages": [{"role": "user", "content": "q", "weight": ""}]}'),
    st.just('{"id": "same", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'),
    st.text(max_size=40),
    st.builds(lambda o: json.dumps(o), st.dictionaries(st.sampled_from(["messages", "id", "label", "meta", "x"]),
                                                       st.recursive(st.none() | st.text(max_size=5) | st.integers(),
                                                                    lambda c: st.lists(c, max_size=3)
                                                                    | st.dictionaries(st.sampled_from(["role", "content", "weight"]), c, max_size=3),
                                                                    max_leaves=8), max_size=4)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(JSONL_PIECES, min_size=1, max_size=12), noise=st.binary(max_size=8))
def test_random_malformed_jsonl_always_balances(lines, noise, tmp_path):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes("\n".join(lines).encode() + noise.replace(b"\x00", b""))
    try:
        result = load_table(path, format="openai-chat")
    except WorkbenchError as exc:  # only an empty file, or one that is mostly not text, may be refused
        assert "is empty" in str(exc) or "binary file" in str(exc)
        return
    assert result.rows_read == result.table.height + len(result.quarantined)
    assert result.table["id"].n_unique() == result.table.height


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list('ab,"\n\r\t') + ["é"]), max_size=80))
def test_random_csv_always_balances_or_refuses_clearly(text, tmp_path):
    path = tmp_path / "fuzz.csv"
    path.write_text("prompt,response\n" + text, encoding="utf-8")
    result = load_table(path)
    assert result.rows_read == result.table.height + len(result.quarantined)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.sampled_from([GOOD, "1", "{", '"s"', "[]", "{}"]), max_size=6),
       tail=st.sampled_from(["]", "", "]]", "] x", ","]))
def test_random_json_arrays_always_balance(items, tail, tmp_path):
    path = tmp_path / "fuzz.json"
    path.write_text("[" + ",\n".join(items) + tail)
    result = load_table(path, format="openai-chat")
    assert result.rows_read == result.table.height + len(result.quarantined)


MEMORY_PROBE = """
import json, resource, sys
import workbench.runtime.discovery as wp
wp.DEFAULT_PLUGINS = ("workbench.plugins.formats", "workbench.plugins.steps")
from workbench.io import load_table
import polars
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = load_table(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": result.table.height, "grew_kb": after - before,
                  "table_kb": result.table.estimated_size() // 1024}))
"""


def test_streaming_memory_grows_with_the_table_not_the_file(tmp_path):
    """A 40 MB JSONL loads with peak RSS growth of a few times the file size (docs/formats.md extrapolates)."""
    path = tmp_path / "big.jsonl"
    row = {"messages": [{"role": "system", "content": "You are a support agent for an online shop."},
                        {"role": "user", "content": "Where is my order? " * 10},
                        {"role": "assistant", "content": "It ships tomorrow, here is the tracking link. " * 8}]}
    with path.open("w") as fh:
        for i in range(40_000):
            fh.write(json.dumps({**row, "id": f"r{i}"}) + "\n")
    size_kb = path.stat().st_size // 1024
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path)], capture_output=True, text=True,
                         timeout=300, cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert figures["rows"] == 40_000
    assert figures["grew_kb"] < 4 * size_kb, figures | {"file_kb": size_kb}
