"""The ledger balances on random inputs; chain, preview, batches and the benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import schema
from workbench.components import Cleaner
from workbench.context import scratch_context
from workbench.ledger import balance_problem
from workbench.plugins.cleaners import CLEANERS
from workbench.plugins.cleaners.chain import DEFAULT_CHAIN, build_chain, run_chain
from workbench.plugins.cleaners.semantic import SemanticDedup
from workbench.plugins.cleaners.synthetic import synthetic_table
from workbench.runtime.machine import status_mb
from workbench.runtime.preview import preview_step, word_diff

PIECES = list("ab c1@.+-#\n\u200b’â€™[]EMAIL") + ["bug", " 4111 1111 1111 1111", "a@b.io", "  ", "[EMAIL]"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=15).map("".join)
TURN = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]), "content": TEXT})
ROWS = st.lists(st.lists(TURN, max_size=5), max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS)
def test_every_cleaner_balances_its_ledger(convs):
    t = schema.from_rows([{"id": f"r{i}", "messages": m} for i, m in enumerate(convs)])
    for cls in CLEANERS:
        if cls is SemanticDedup:
            continue  # needs the embedded model; same accounting code path as the other dedups
        options = {"glossary": {"issue": ["bug"]}} if cls.name == "terminology" else {}
        result = cls(options).run(t, scratch_context())
        assert balance_problem(t.height, result) is None, cls.name
        changed = result.ledger.filter(pl.col("action") == "changed")
        assert changed["row_id"].is_unique().all(), cls.name
        assert set(result.table["id"]) | set(result.ledger.filter(pl.col("action") == "dropped")["row_id"]) == set(t["id"])


def test_default_chain_is_deterministic_and_accounts_for_every_row():
    t, _ = synthetic_table(600, seed=3)
    first = run_chain(t, build_chain(DEFAULT_CHAIN), scratch_context())
    second = run_chain(t, build_chain(DEFAULT_CHAIN), scratch_context())
    assert first.table.equals(second.table) and first.ledger.equals(second.ledger)
    dropped = first.ledger.filter(pl.col("action") == "dropped")
    assert first.table.height + dropped.height == t.height
    assert {"exact duplicate", "near duplicate", "empty answer"} <= set(dropped["reason"])
    assert not first.table["messages"].list.eval(pl.element().struct.field("content")).list.join(" ").str.contains("4111 1111").any()


THIRD_PARTY = textwrap.dedent("""
    import polars as pl
    from workbench.components import Cleaner
    from workbench.hookspecs import hookimpl
    from workbench.ledger import Ledger, StepResult

    class DropShouting(Cleaner):
        name = "drop-shouting"
        description = "Drop rows whose first turn is all capitals"
        def run(self, table, ctx):
            first = pl.col("messages").list.first().struct.field("content")
            mask = table.select((first == first.str.to_uppercase()) & first.str.contains("[A-Z]")).to_series().fill_null(False)
            ledger = Ledger(self.name)
            for row in table.filter(mask).to_dicts():
                ledger.drop(row["id"], "shouting", row=row)
            return StepResult(table.filter(~mask), ledger.frame())

    @hookimpl
    def register_cleaners(register):
        register(DropShouting)
""")


def test_build_chain_finds_a_third_party_cleaner_in_the_registry(tmp_path, monkeypatch):
    from workbench.runtime.discovery import get_host

    (tmp_path / "pl").mkdir()
    (tmp_path / "pl" / "shouting.py").write_text(THIRD_PARTY)
    get_host(tmp_path / "pl")
    cleaners = build_chain([("whitespace", {}), ("drop-shouting", {}), ("exact-dedup", {})])
    assert [c.name for c in cleaners] == ["whitespace", "drop-shouting", "exact-dedup"]
    t = schema.from_rows([{"id": "a", "messages": [{"role": "user", "content": "WHERE  IS IT"}, {"role": "assistant", "content": "Here."}]},
                          {"id": "b", "messages": [{"role": "user", "content": "where is it"}, {"role": "assistant", "content": "Here."}]}])
    result = run_chain(t, cleaners, scratch_context())
    assert result.table["id"].to_list() == ["b"]
    assert result.ledger.filter(pl.col("action") == "dropped")["reason"].to_list() == ["shouting"]


def test_preview_shows_word_diff_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t, _ = synthetic_table(300, seed=1)
    rows = preview_step(build_chain([("pii", {})])[0], t, n=50, seed=0)
    assert len(rows) == 50 and list(tmp_path.iterdir()) == []
    changed = [r for r in rows if r["action"] == "changed"]
    assert changed and all(r["reason"] == "pii redacted" for r in changed)
    assert any(op["op"] == "insert" and op["text"].startswith("[") for r in changed for op in r["diff"])
    assert preview_step(build_chain([("pii", {})])[0], t, n=50, seed=0) == rows


def test_word_diff_round_trips():
    ops = word_diff("call me at 555 now", "call me at [PHONE] now")
    assert "".join(o["text"] for o in ops if o["op"] != "insert") == "call me at 555 now"
    assert [o for o in ops if o["op"] != "equal"] == [{"op": "delete", "text": "555"}, {"op": "insert", "text": "[PHONE]"}]


BATCHED = textwrap.dedent("""
    import json, sys
    import numpy, polars, pyarrow.parquet
    from workbench.plugins.cleaners.chain import DEFAULT_CHAIN, build_chain, run_chain_batched

    def rss(field):
        return [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field)][0] / 1024

    build_chain(DEFAULT_CHAIN)  # imports and the plugin registry: the baseline before any row is read
    baseline = rss("VmRSS")
    after = []  # RSS after each batch; the first includes lazily built regex automata, thread pools, ...
    stats = run_chain_batched(sys.argv[1], sys.argv[2], sys.argv[3], batch_rows=int(sys.argv[4]),
                              on_batch=lambda b: after.append(rss("VmRSS")))
    print(json.dumps({**stats, "baseline_mb": baseline, "first_batch_mb": after[0], "peak_rss_mb": rss("VmHWM")}))
""")


# polars' jemalloc keeps freed pages for seconds by default, so peak RSS would depend on timing; return them at once
QUIET_ALLOCATOR = {**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}


def run_batched_child(tmp_path: Path, source: Path, batch_rows: int) -> dict:
    """Run the default chain batch-wise in a fresh process; its peak RSS is the process's high-water mark."""
    script = tmp_path / "batched.py"
    script.write_text(BATCHED)
    root = str(Path(schema.__file__).resolve().parent.parent)
    out, ledger = source.with_suffix(".out.parquet"), source.with_suffix(".ledger.parquet")
    child = subprocess.run([sys.executable, str(script), str(source), str(out), str(ledger), str(batch_rows)],
                           capture_output=True, text=True, cwd=root, timeout=300, env=QUIET_ALLOCATOR)
    assert child.returncode == 0, child.stderr[-2000:]
    return {**json.loads(child.stdout.strip().splitlines()[-1]), "out": out, "ledger": ledger}


def test_batched_run_gives_the_in_memory_result(tmp_path):
    """Quality bounds come from a first pass, dedup memories span batches: the same drops as in memory."""
    from workbench.plugins.cleaners.chain import run_chain_batched

    t, _ = synthetic_table(3000, seed=2)
    t.write_parquet(tmp_path / "s.parquet", row_group_size=500)
    stats = run_chain_batched(tmp_path / "s.parquet", tmp_path / "o.parquet", tmp_path / "l.parquet", batch_rows=500)
    memory = run_chain(t, build_chain(DEFAULT_CHAIN), scratch_context())
    out, ledger = pl.read_parquet(tmp_path / "o.parquet"), pl.read_parquet(tmp_path / "l.parquet")
    assert stats["batches"] == 6 and stats["passes"] == 2
    assert stats["rows_in"] == t.height == out.height + stats["dropped"]
    for reason in ("length outlier", "exact duplicate", "empty answer", "refusal", "repeated phrase"):
        assert set(ledger.filter(pl.col("reason") == reason)["row_id"]) == set(memory.ledger.filter(pl.col("reason") == reason)["row_id"]), reason
    assert ledger.filter(pl.col("action") == "changed").height == memory.ledger.filter(pl.col("action") == "changed").height
    # cross-batch near duplicates are confirmed on 8-bit MinHash estimates (the texts of earlier batches are gone)
    assert len(set(out["id"]) ^ set(memory.table["id"])) <= 0.01 * t.height


class _Recording(Cleaner):
    """Drops the rows whose id ends in its digit; records which batch (first id) it saw, in order."""

    description = "test cleaner"

    def __init__(self, name: str, digit: str, seen: list[str], wait_for: Callable[[str], None] | None = None,
                 fail_on: str | None = None) -> None:
        super().__init__({})
        self.name, self.digit, self.seen, self.wait_for, self.fail_on = name, digit, seen, wait_for, fail_on

    def run(self, table, ctx):
        from workbench.ledger import Ledger, StepResult

        batch = table["id"][0]
        self.seen.append(batch)
        if batch == self.fail_on:
            raise ValueError(f"{self.name} fails on {batch}")
        if self.wait_for is not None:
            self.wait_for(batch)
        drop = table["id"].str.ends_with(self.digit)
        ledger = Ledger(self.name)
        for row_id in table.filter(drop)["id"]:
            ledger.drop(row_id, f"ends in {self.digit}")
        return StepResult(table.filter(~drop), ledger.frame())


def _id_batches(count: int, rows: int = 10) -> list[pl.DataFrame]:
    return [schema.from_rows([{"id": f"b{b}-{i}", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
                              for i in range(rows)]) for b in range(count)]


def test_streamed_chain_runs_cleaners_on_different_batches_at_once_and_each_in_order():
    """The second cleaner on batch i waits until the first has started batch i+1: one batch at a time never gets there."""
    import threading

    from workbench.plugins.cleaners.chain import run_chain_stream

    batches = _id_batches(5)
    first_seen: list[str] = []
    started = {b["id"][0]: threading.Event() for b in batches}
    following = {b["id"][0]: nxt["id"][0] for b, nxt in zip(batches, batches[1:])}
    timed_out: list[str] = []

    def first_has_started_the_next(batch: str) -> None:
        if batch in following and not started[following[batch]].wait(10):
            timed_out.append(batch)

    class First(_Recording):
        def run(self, table, ctx):
            started[table["id"][0]].set()
            return super().run(table, ctx)

    second_seen: list[str] = []
    cleaners = [First("first", "1", first_seen), _Recording("second", "2", second_seen, wait_for=first_has_started_the_next)]
    streamed = list(run_chain_stream(iter(batches), cleaners, scratch_context()))
    assert not timed_out
    order = [b["id"][0] for b in batches]
    assert first_seen == order and second_seen == order
    for table, (rows_in, result) in zip(batches, streamed):
        alone = run_chain(table, [_Recording("first", "1", []), _Recording("second", "2", [])], scratch_context())
        assert rows_in == table.height
        assert result.table.equals(alone.table) and result.ledger.equals(alone.ledger)
        assert set(result.seconds) == {"first", "second"}


def test_streamed_chain_raises_a_cleaners_error_and_stops_its_threads():
    import threading

    from workbench.plugins.cleaners.chain import run_chain_stream

    before = threading.active_count()
    seen: list[str] = []
    cleaners = [_Recording("first", "1", []), _Recording("second", "2", seen, fail_on="b2-0")]
    with pytest.raises(ValueError, match="second fails on b2-0"):
        for _ in run_chain_stream(iter(_id_batches(8)), cleaners, scratch_context()):
            pass
    assert threading.active_count() == before
    assert seen[:3] == ["b0-0", "b1-0", "b2-0"] and len(seen) < 8  # later batches were not all cleaned


LOAD_ONLY = textwrap.dedent("""
    import json, sys
    import polars as pl
    from workbench.plugins.cleaners.chain import DEFAULT_CHAIN, build_chain

    build_chain(DEFAULT_CHAIN)
    table = pl.read_parquet(sys.argv[1])  # what holding the file in memory takes, before any cleaning
    peak = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")][0] / 1024
    print(json.dumps({"rows": table.height, "peak_rss_mb": peak}))
""")


@pytest.mark.slow
def test_chain_runs_batch_wise_in_flat_memory_far_below_the_file(tmp_path):
    """Four times the rows, the same peak, and far less than just loading the file: one batch plus compact dedup hashes.

    4x rather than 2x so that the growth checked (the table grows by about 380 MB) stands well clear of the
    allocator's run-to-run noise in peak RSS (+-25 MB measured)."""
    t, _ = synthetic_table(4000, seed=5)
    rng = np.random.default_rng(0)
    parts = [t.with_columns(pl.col("id") + f"-{k}", meta=pl.Series([r.tobytes().hex() for r in rng.integers(0, 256, size=(t.height, 8192), dtype=np.uint8)]))
             for k in range(8)]  # each part repeats the first: cross-batch duplicates; 16 KB of meta per row
    runs = {}
    for name, k in (("small", 2), ("large", 8)):
        big = pl.concat(parts[:k])
        source = tmp_path / f"{name}.parquet"
        big.write_parquet(source, row_group_size=1000)
        runs[name] = {**run_batched_child(tmp_path, source, 1000), "table_mb": big.estimated_size("mb"), "rows": big.height}
        del big
    del parts
    (tmp_path / "load.py").write_text(LOAD_ONLY)
    loaded = subprocess.run([sys.executable, str(tmp_path / "load.py"), str(tmp_path / "large.parquet")], capture_output=True,
                            text=True, cwd=str(Path(schema.__file__).resolve().parent.parent), timeout=300)
    load_peak = json.loads(loaded.stdout.strip().splitlines()[-1])["peak_rss_mb"]
    small, large = runs["small"], runs["large"]
    print({"small_peak_mb": small["peak_rss_mb"], "large_peak_mb": large["peak_rss_mb"], "large_table_mb": large["table_mb"],
           "load_only_peak_mb": load_peak, "baseline_mb": large["baseline_mb"], "first_batch_mb": large["first_batch_mb"]})
    assert large["peak_rss_mb"] < 1.2 * small["peak_rss_mb"], runs  # 4x rows: peak grows less than 20%
    assert large["peak_rss_mb"] < load_peak, (runs, load_peak)  # below merely loading the file, before cleaning it
    # the last three quarters of the rows add little to the peak: only compact per-row state (dedup hashes, token
    # lengths) outlives its batch; measured 1-2 KB per row against 16 KB of row data (holding the rows: >= 100%)
    assert large["peak_rss_mb"] - small["peak_rss_mb"] < 0.15 * (large["table_mb"] - small["table_mb"]), runs
    out = pl.read_parquet(large["out"])
    ledger = pl.read_parquet(large["ledger"])
    assert large["rows_in"] == large["rows"] == out.height + large["dropped"]
    assert out.height < t.height and out["id"].str.ends_with("-0").all()  # later parts are duplicates found across batches
    assert ledger.filter(pl.col("action") == "dropped")["row_id"].n_unique() == large["dropped"]


def test_benchmark_reports_the_required_keys():
    from argparse import Namespace

    from workbench.plugins.benchmarks import curation

    result = curation.run(Namespace(rows=800, reference_rows=800, sample=300, seed=0))
    for key in ("rows", "seconds", "rows_per_second", "speedup_vs_per_row", "neardup_speedup_vs_datasketch",
                "neardup_recall", "neardup_precision", "peak_memory_mb"):
        assert result[key] is not None, key
    assert result["neardup_recall"] >= 0.9 and result["rows"] == 800


def test_spilling_the_near_dedup_memory_to_disk_changes_nothing(tmp_path):
    """A zero budget moves near-dedup's remembered signatures and keys to memory-mapped files at once: same output."""
    from workbench.plugins.cleaners.chain import run_chain_batched

    t, _ = synthetic_table(3000, seed=4)
    t.write_parquet(tmp_path / "s.parquet", row_group_size=300)
    outputs = {}
    for budget in (1024, 0):
        folder = tmp_path / f"b{budget}"
        folder.mkdir()
        run_chain_batched(tmp_path / "s.parquet", folder / "o.parquet", folder / "l.parquet", batch_rows=300,
                          memory_budget_mb=budget)
        outputs[budget] = (pl.read_parquet(folder / "o.parquet"), pl.read_parquet(folder / "l.parquet"))
        assert [p.name for p in folder.iterdir()] and not list(folder.glob("chain-*"))  # spill files cleaned up
    assert outputs[0][0].equals(outputs[1024][0]) and outputs[0][1].equals(outputs[1024][1])
    assert outputs[0][1].filter(pl.col("reason") == "near duplicate").height > 0


def test_spill_structures_match_a_plain_reference(tmp_path):
    from workbench.plugins.cleaners.spill import RowChunks, SortedRuns, Spill

    rng = np.random.default_rng(1)
    spill = Spill(0, tmp_path)
    runs, rows = SortedRuns(spill), RowChunks(4, spill)
    reference: dict[int, int] = {}
    owner = 0
    for step in range(12):
        if step == 5:
            spill.active = True
            runs.spill_all()
            rows.spill_all()
        keys = rng.integers(0, 5000, size=700).astype(np.uint64)
        owners = np.arange(owner, owner + 700, dtype=np.uint32)
        for k, o in zip(keys.tolist(), owners.tolist()):
            reference.setdefault(k, o)
        runs.add(keys, owners)
        rows.append(rng.integers(0, 256, size=(700, 4), dtype=np.uint8) * 0 + (np.arange(owner, owner + 700) % 251)[:, None])
        owner += 700
    probe = rng.permutation(6000).astype(np.uint64)  # find sorts its probes and answers in their given order
    assert runs.find(probe).tolist() == [reference.get(int(k), -1) for k in probe]
    assert len(runs) == len(reference) and len(runs.runs) <= 6
    assert any(isinstance(k, np.memmap) for k, _ in runs.runs) and spill.bytes_on_disk > 0
    picked = rng.integers(0, owner, size=500)
    assert (rows.gather(picked)[:, 0] == picked % 251).all()


def test_benchmark_batch_wise_run_reports_time_and_its_own_peak_memory():
    from argparse import Namespace

    from workbench.plugins.benchmarks import curation

    result = curation.run(Namespace(rows=900, reference_rows=300, sample=200, seed=0, batched=False, batched_only=True,
                                    batch_rows=300, memory_budget_mb=0))
    assert result["baselines"].startswith("skipped") and result["batched_batches"] == 3
    assert 0 < result["batched_rows_out"] < 900 and result["batched_peak_memory_mb"] > 50
    assert result["batched_seconds"] >= result["batched_cpu_seconds"] * 0.3 > 0


def test_spilled_key_runs_merge_in_memory_bounded_by_a_chunk_not_the_row_count(tmp_path, monkeypatch):
    """Once spilling, merging the sorted key runs holds one chunk in RAM, whatever the number of keys held:
    numpy's allocations are traced (deterministic, unlike RSS on a loaded machine); the memory-mapped
    output is not RAM the process owns. Before, the largest merge held about 32 bytes per key."""
    import tracemalloc

    from workbench.plugins.cleaners.spill import SortedRuns, Spill

    monkeypatch.setattr(SortedRuns, "MERGE_CHUNK", 4096)
    batch = 10_000
    peaks = {}
    for batches in (10, 40):
        rng = np.random.default_rng(batches)
        spill = Spill(0, tmp_path)
        spill.active = True
        runs = SortedRuns(spill)
        tracemalloc.start()
        for step in range(batches):
            runs.add(rng.integers(0, 1 << 62, size=batch).astype(np.uint64),
                     np.arange(step * batch, (step + 1) * batch, dtype=np.uint32))
        peaks[batches] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(runs) == batches * batch and len(runs.runs) <= 7
        assert runs.ram_bytes() <= batch * 12  # only the newest run, not yet merged, is in RAM
    per_key = (peaks[40] - peaks[10]) / (30 * batch)
    assert per_key < 2, f"RAM grows by {per_key:.1f} bytes per key held (peaks {peaks})"


def _peak_rss_growth_mb(action) -> float:
    """How far the process's peak RSS (anonymous and file pages alike) rose above its RSS while ``action`` ran."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux 4.0 on)
    except OSError as e:
        pytest.skip(f"cannot reset the peak RSS here: {e}")
    before = status_mb("VmRSS")
    action()
    return status_mb("VmHWM") - before


def test_spilled_key_runs_release_the_file_pages_that_merges_and_lookups_touch(tmp_path, monkeypatch):
    """Pages of a memory-mapped file that a merge or a lookup touched count in the peak RSS until released;
    at 10M rows the largest merge touched about 4 GB of them (a 4.9 GB peak against a 1 GB budget). Both now
    release them a chunk or a slice at a time: the peak rises by a chunk, not by the 16M keys' 192 MB."""
    from workbench.plugins.cleaners.minhash import sorted_unique
    from workbench.plugins.cleaners.spill import SortedRuns, Spill

    monkeypatch.setattr(SortedRuns, "MERGE_CHUNK", 1 << 16)
    monkeypatch.setattr(SortedRuns, "LOOKUP_REGION", 4 << 20)
    rng = np.random.default_rng(0)
    keys = sorted_unique(rng.integers(0, 1 << 62, size=16_000_000, dtype=np.uint64))
    spill = Spill(0, tmp_path)
    spill.active = True
    halves = [(spill.store(keys[i::2]), spill.store(np.arange(i, len(keys), 2, dtype=np.uint32))) for i in (0, 1)]
    runs = SortedRuns(spill)
    probe = np.concatenate([keys[::160], rng.integers(0, 1 << 62, size=100_000, dtype=np.uint64)])
    at = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
    expected = np.where(keys[at] == probe, at, -1)
    del keys
    spill.release()

    merge_mb = _peak_rss_growth_mb(lambda: runs.runs.append(runs._merged(*halves)))
    halves.clear()  # the inputs, merged away
    spill.release()
    found: list[np.ndarray] = []
    lookup_mb = _peak_rss_growth_mb(lambda: found.append(runs.find(probe)))

    assert (found[0] == expected).all()
    assert merge_mb < 32 and lookup_mb < 40, f"peak RSS rose {merge_mb:.0f} MB merging, {lookup_mb:.0f} MB looking up"


def test_merging_a_small_run_into_a_large_one_touches_one_stretch_of_the_output_at_a_time(tmp_path, monkeypatch):
    """A chunk of the smaller run lands all over the output of a merge (its keys spread over the whole larger
    run), so merging a batch's run into the big one touched every page of the output per chunk: at 10M rows,
    peaks growing with the rows held. The larger run now sets the chunks, each with its stretch of the smaller."""
    from workbench.plugins.cleaners.minhash import sorted_unique
    from workbench.plugins.cleaners.spill import SortedRuns, Spill

    monkeypatch.setattr(SortedRuns, "MERGE_CHUNK", 1 << 16)
    rng = np.random.default_rng(1)
    keys = sorted_unique(rng.integers(0, 1 << 62, size=16_000_000, dtype=np.uint64))
    small = np.zeros(len(keys), dtype=bool)
    small[::64] = True  # a batch's run beside the run of everything held (old code: 93 MB, now 14 MB)
    spill = Spill(0, tmp_path)
    spill.active = True
    owners = np.arange(len(keys), dtype=np.uint32)
    runs = [(spill.store(keys[~small]), spill.store(owners[~small])), (spill.store(keys[small]), spill.store(owners[small]))]
    expected = keys[::997].copy()
    del keys, owners, small
    spill.release()

    merged: list[tuple[np.ndarray, np.ndarray]] = []
    merge_mb = _peak_rss_growth_mb(lambda: merged.append(SortedRuns(spill)._merged(*runs)))

    out_keys, out_owners = merged[0]
    assert (out_keys[::997] == expected).all() and (out_owners[::997] == np.arange(0, len(out_keys), 997)).all()
    assert bool((np.diff(out_keys[:1_000_000].astype(np.int64) >> 1) >= 0).all())
    assert merge_mb < 32, f"peak RSS rose {merge_mb:.0f} MB merging a run of 250,000 keys into one of 15.75M"


def test_exact_dedup_looks_up_a_batch_without_a_hash_table_of_every_remembered_row():
    """Batch-wise, exact-dedup joined each batch to the hashes of every row kept before: a hash table of
    them per batch, 86 MB of peak at 3M rows. It now joins only the remembered rows
    the batch repeats, so the peak follows the batch, not the memory."""
    from workbench.plugins.cleaners.dedup import ExactDedup

    t, _ = synthetic_table(20_000, seed=1)
    cleaner = ExactDedup(ExactDedup.Options())
    cleaner.start_batches()
    remembered = 3_000_000
    cleaner.memory = pl.DataFrame({"__h": np.random.default_rng(0).integers(0, 1 << 63, size=remembered, dtype=np.uint64),
                                   "__first": pl.Series(np.arange(remembered)).cast(pl.Utf8)})
    cleaner.run(t.head(100), scratch_context())  # warm-up: polars' pools and thread start
    results = []
    growth = _peak_rss_growth_mb(lambda: results.append(cleaner.run(t, scratch_context())))
    assert 0 < results[0].stats["dropped"] < t.height  # the batch's own duplicates (cross-batch: the chain tests)
    assert growth < 45, f"peak RSS rose {growth:.0f} MB for a batch of {t.height:,} rows"


def test_sorted_probes_read_only_their_stretch_of_a_memory_mapped_file(tmp_path):
    """numpy's search of sorted probes restarts its upper bound at the array's end for every probe, so on a
    memory-mapped file it maps pages far beyond the probes' stretch (52 MB for a 16 MB stretch here)."""
    import mmap

    from workbench.plugins.cleaners.spill import search_sorted_probes

    rng = np.random.default_rng(0)
    keys = np.sort(rng.integers(0, 1 << 62, size=16_000_000, dtype=np.uint64))
    keys.tofile(tmp_path / "keys.bin")
    mapped = np.memmap(tmp_path / "keys.bin", dtype=np.uint64, mode="r", shape=keys.shape)
    probes = np.sort(rng.integers(0, 1 << 59, size=200_000, dtype=np.uint64))  # the first eighth: 16 MB of keys
    mapped._mmap.madvise(mmap.MADV_DONTNEED)
    before = status_mb("RssFile")
    found = search_sorted_probes(mapped, probes)
    touched = status_mb("RssFile") - before
    assert (found == np.searchsorted(keys, probes)).all()
    edges = np.array([0, keys[-1], keys[-1] + np.uint64(1)], dtype=np.uint64)
    assert search_sorted_probes(keys, edges).tolist() == [0, len(keys) - 1, len(keys)]
    assert len(search_sorted_probes(keys, edges[:0])) == 0
    assert touched < 24, f"{touched:.0f} MB of the file mapped for a 16 MB stretch"
