"""Streaming load: the fast path gives exactly what the per-line checks give; validate and convert stream."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from test_load_recovery import hostile_corpus

from workbench.io import fastjson, load_table
from workbench.io.loader import TableStream

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _formats_host(monkeypatch):
    """Only the plugins under test: other families' work in progress must not break these tests."""
    monkeypatch.setattr("workbench.runtime.discovery.DEFAULT_PLUGINS", ("workbench.plugins.formats", "workbench.plugins.steps"))


def mixed_lines(n: int, seed: int = 0) -> list[str]:
    """Mostly clean chat lines, with every kind of line the fast path must hand to the per-line checks."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        turns = [{"role": "user", "content": f"q{i % 300}"}, {"role": "assistant", "content": f"a{i % 300}"}]
        obj: dict = {"messages": turns}
        kind = rng.randrange(40)
        if kind == 0:
            obj["id"] = f"dup{i % 7}"  # repeated own ids, across batches too
        elif kind == 1:
            turns.insert(0, {"role": "system", "content": "be brief"})
            obj["label"], obj["split"] = "billing", "train"
        elif kind == 2:
            turns[1]["weight"] = 0
        elif kind == 3:
            turns[0]["weight"] = 1  # weight on a user turn: an error
        elif kind == 4:
            turns.append({"role": "assistant", "content": "also"})  # a warning only
        elif kind == 5:
            turns.append({"role": "system", "content": "late"})
        elif kind == 6:
            turns[1]["content"] = " \t "
        elif kind == 7:
            obj["meta"] = {"source": "crm"}
        elif kind == 8:
            obj["colour"] = "blue"
        elif kind == 9:
            obj["id"] = 42
        elif kind == 10:
            obj["split"] = "dev"
        elif kind == 11:
            turns[1]["weight"] = True
        elif kind == 12:
            lines.append("")
        elif kind == 13:
            obj = {"messages": [{"role": "user", "content": "only a question"}]}
        elif kind == 14:
            turns[1]["content"] = "\u001c"  # blank for Python's str.strip, not for Unicode White_Space
        elif kind == 15:
            obj["source_id"] = "parent-1"
        lines.append(json.dumps(obj, ensure_ascii=False))
    return lines


def same_load(path: Path, batch_lines: int, **kwargs) -> None:
    fast, slow = (TableStream(path, fast=f, batch_lines=batch_lines, **kwargs) for f in (True, False))
    fast_table, slow_table = (pl.concat(list(s), how="diagonal_relaxed") for s in (fast, slow))
    a, b = fast.result(fast_table), slow.result(slow_table)
    assert a.table.equals(b.table)
    assert [(q.row_id, q.line, q.codes, q.problems) for q in a.quarantined] == \
        [(q.row_id, q.line, q.codes, q.problems) for q in b.quarantined]
    assert [p.to_dict() for p in a.problems] == [p.to_dict() for p in b.problems]
    assert a.problem_counts == b.problem_counts and a.recovered == b.recovered
    assert a.rows_read == a.rows_valid + a.rows_quarantined == b.rows_read


def test_fast_path_equals_per_line_checks_on_mixed_lines(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(mixed_lines(3000)) + "\n", encoding="utf-8")
    same_load(path, batch_lines=256)  # many batches: repeated ids across batch boundaries
    table = load_table(path).table
    assert 2000 < table.height < 3000 and table["id"].is_unique().all()
    assert "q0" in table["messages"][0][0]["content"]


def test_fast_path_equals_per_line_checks_on_the_hostile_corpus(tmp_path):
    data, *_ = hostile_corpus()
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(data)
    same_load(path, batch_lines=100, format="openai-chat")


def test_clean_lines_all_take_the_fast_path():
    lines = [(i + 1, json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                              {"role": "assistant", "content": "a", "weight": 1}]}).encode() + b"\n",
              False) for i in range(500)]
    split = fastjson.split_batch(lines)
    assert split.frame.height == 500 and not split.rest
    assert split.frame["_line"].to_list() == list(range(1, 501))
    lines[10] = (11, b'{"messages": [{"role": "user", "content": 5}]}', False)
    split = fastjson.split_batch(lines)
    assert split.frame.height == 499 and [n for n, _, _ in split.rest] == [11]


def test_validate_and_convert_stream_and_report_the_same_counts(tmp_path):
    from workbench.cli import main

    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(mixed_lines(2000, seed=3)) + "\n", encoding="utf-8")
    reference = load_table(path)
    out = subprocess.run([sys.executable, "-m", "workbench", "validate", str(path), "--json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    report = json.loads(out.stdout)
    assert (report["rows_read"], report["rows_valid"], report["rows_invalid"]) == \
        (reference.rows_read, reference.table.height, len(reference.quarantined))
    for target in ("out.parquet", "out.jsonl"):
        assert main(["convert", str(path), str(tmp_path / target), "--json"]) == 0
        back = load_table(tmp_path / target).table
        assert back.drop("meta").equals(reference.table.drop("meta"))
        assert back["meta"].to_list() == reference.table["meta"].to_list()


MEMORY_PROBE = """
import json, resource, sys
from pathlib import Path
import workbench.runtime.discovery as wp
wp.DEFAULT_PLUGINS = ("workbench.plugins.formats", "workbench.plugins.steps")
from workbench.bench.load import write_corpus
from workbench.io.loader import TableStream

path, batch = Path(sys.argv[1]), int(sys.argv[2])
warm = path.with_name("warm.jsonl")  # imports and first allocations happen before the baseline
write_corpus(warm, 3000, 1)
for _ in TableStream(warm, keep_quarantined=False, batch_lines=batch):
    pass
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
stream = TableStream(path, keep_quarantined=False, batch_lines=batch)
for _ in stream:
    pass
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = stream.result()
print(json.dumps({"rows": result.rows_read, "valid": result.rows_valid, "grew_mb": (after - before) / 1024}))
"""


def test_validating_a_file_four_times_the_memory_budget_stays_within_it(tmp_path):
    """Peak RSS growth of a streamed validation stays under a 16 MB budget for a 64 MB file (measured: about 8 MB)."""
    from workbench.bench.load import write_corpus

    budget_mb = 16
    path = tmp_path / "big.jsonl"
    write_corpus(path, 160_000, 0)
    size_mb = path.stat().st_size / 2**20
    assert size_mb >= 4 * budget_mb - 2
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path), "2000"], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert figures["rows"] == 160_000 and figures["valid"] == 160_000 - 160
    assert figures["grew_mb"] < budget_mb, figures | {"file_mb": size_mb}


def test_load_benchmark_measures_both_paths_on_the_same_file():
    from argparse import Namespace

    from workbench.bench import load

    result = load.run(Namespace(rows=4000, per_line_rows=None, seed=1))
    assert result["same_counts"] and (result["rows_valid"], result["rows_invalid"]) == (3996, 4)
    for key in ("rows_per_second", "peak_memory_mb", "per_line_rows_per_second", "per_line_peak_memory_mb",
                "rows_per_cpu_second", "convert_parquet_seconds", "speedup_vs_per_line"):
        assert result[key] > 0, key


def test_parquet_fast_path_equals_per_row_checks(tmp_path):
    from workbench import schema

    def turns(*pairs, weight=None):
        return [{"role": r, "content": c, "weight": weight if r == "assistant" else None} for r, c in pairs]

    qa = (("user", "where is my order?"), ("assistant", "it ships tomorrow"))
    variants = [
        {"messages": turns(*qa)},
        {"messages": turns(("system", "be brief"), *qa), "label": "billing", "split": "train"},
        {"messages": turns(*qa, weight=0), "meta": '{"z": 1, "a": "\u00e9"}'},
        {"messages": turns(("user", "q"), ("assistant", " \u3000 "))},
        {"messages": turns(("user", "q"), ("tool", "x"), ("assistant", "a"))},
        {"messages": turns(*qa, weight=2)},
        {"messages": [{"role": "user", "content": "q", "weight": 1}, {"role": "assistant", "content": "a", "weight": None}]},
        {"messages": turns(("user", "q"), ("user", "q2"), ("assistant", "a"))},
        {"messages": turns(*qa, ("system", "late"), *qa)},
        {"messages": turns(("user", "only a question"))},
        {"messages": turns(*qa), "split": "dev"},
        {"messages": turns(*qa), "meta": "not json"},
        {"messages": turns(*qa), "meta": "[1, 2]"},
        {"messages": []},
        {"messages": None},
        {"messages": turns(("user", None), ("assistant", "a"))},
    ]
    rows = []
    for i in range(1200):
        row = dict(variants[i % len(variants)])
        row["id"] = None if i % 97 == 0 else f"p{i % 1100}"  # repeats across batches, and rows without an id
        rows.append({c: row.get(c) for c in schema.SCHEMA})
    pl.DataFrame(rows, schema=schema.SCHEMA).write_parquet(tmp_path / "mixed.parquet", row_group_size=250)
    same_load(tmp_path / "mixed.parquet", batch_lines=300)
    result = load_table(tmp_path / "mixed.parquet")
    assert 300 < result.table.height < 600 and result.rows_read == 1200
    assert json.loads(result.table.filter(pl.col("meta").is_not_null())["meta"][0]) == {"a": "\u00e9", "z": 1}
