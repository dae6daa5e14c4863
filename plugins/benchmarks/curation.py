"""Curation: the default cleaning chain against a per-row Python reference and
datasketch, on a synthetic support dataset with known duplicates and PII.

The per-row reference applies the same rules one row at a time with Python's
``re`` and a datasketch MinHash LSH; with a large ``--rows`` it runs on a
subsample and is scaled linearly (said in the JSON). Near-duplicate recall
and precision are pairs within a sample against the exact Jaccard of the
same word shingles.
"""

from __future__ import annotations

import json
import re
import resource
import time
from typing import Any

HELP = "default cleaning chain vs a per-row Python reference and datasketch MinHash LSH"


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=5000, help="synthetic conversations (the docs use 200000)")
    parser.add_argument("--reference-rows", type=int, default=10000, help="rows the per-row reference runs on (scaled up)")
    parser.add_argument("--sample", type=int, default=2000, help="rows whose pairs are scored against exact Jaccard")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batched", action="store_true",
                        help="also run the chain batch-wise from Parquet in a fresh process (batched_* keys: time, peak memory)")
    parser.add_argument("--batched-only", action="store_true",
                        help="only the batch-wise run: no in-memory chain, per-row reference or datasketch (for millions of rows)")
    parser.add_argument("--batch-rows", type=int, default=50_000, help="rows per batch of the batch-wise run")
    parser.add_argument("--memory-budget-mb", type=int, default=1024, help="near-dedup memory before it spills to disk")


def run(args) -> dict[str, Any]:
    from workbench.context import scratch_context
    from workbench.plugins.cleaners.chain import DEFAULT_CHAIN, build_chain, run_chain
    from workbench.plugins.cleaners.synthetic import synthetic_table

    if getattr(args, "batched_only", False):  # the input is written part by part: no table in this process
        return {"rows": args.rows, "baselines": "skipped (--batched-only)", **batched_run(None, args)}
    table, family = synthetic_table(args.rows, seed=args.seed)
    batched = batched_run(table, args) if getattr(args, "batched", False) else {}
    cleaners = build_chain(DEFAULT_CHAIN)  # loads the plugin registry: set-up, not cleaning
    started = time.perf_counter()
    chain = run_chain(table, cleaners, scratch_context(seed=args.seed))
    seconds = time.perf_counter() - started

    ref_rows = min(args.rows, args.reference_rows)
    ref_table = table.head(ref_rows)
    started = time.perf_counter()
    ref_kept = per_row_reference(ref_table.to_dicts(), dict(DEFAULT_CHAIN)["near-dedup"])
    ref_seconds = (time.perf_counter() - started) * args.rows / ref_rows

    near = neardup_comparison(table, dict(DEFAULT_CHAIN)["near-dedup"], args.sample, family, args.seed)
    return {
        "rows": args.rows, "rows_out": chain.table.height, "seconds": round(seconds, 2),
        "rows_per_second": round(args.rows / seconds), "seconds_by_cleaner": {k: round(v, 2) for k, v in chain.seconds.items()},
        "per_row_reference_seconds": round(ref_seconds, 2), "per_row_reference_rows": ref_rows,
        "per_row_reference_scaled": ref_rows < args.rows, "per_row_reference_rows_out": len(ref_kept),
        "speedup_vs_per_row": round(ref_seconds / seconds, 1), **near,
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), **batched,
    }


_BATCHED_PROBE = """
import json, sys
from workbench.plugins.benchmarks.curation import batched_probe
print(json.dumps(batched_probe(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
"""


def batched_run(table, args) -> dict[str, Any]:
    """The chain batch-wise from a Parquet file, in a fresh process so that its peak memory is its own.

    Without ``table`` the file is generated part by part (``write_synthetic_parquet``), so the benchmark
    itself holds one part, whatever ``--rows``.
    """
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from workbench.runtime.machine import load_average

    with tempfile.TemporaryDirectory(prefix="bench-curation-") as tmp:
        source = Path(tmp) / "synthetic.parquet"
        started = time.perf_counter()
        if table is None:
            from workbench.plugins.cleaners.synthetic import write_synthetic_parquet

            write_synthetic_parquet(source, args.rows, seed=args.seed, part_rows=min(args.batch_rows, 50_000))
        else:
            table.write_parquet(source, row_group_size=min(args.batch_rows, 50_000))
        generated = time.perf_counter() - started
        before = load_average()
        out = subprocess.run([sys.executable, "-c", _BATCHED_PROBE, str(source), str(args.batch_rows),
                              str(args.memory_budget_mb)], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"bench curation: the batch-wise run failed: {out.stderr.strip()[-2000:]}")
        figures = json.loads(out.stdout)
    return {f"batched_{k}": v for k, v in figures.items()} | {
        "batched_rows_per_second": round(args.rows / figures["seconds"]), "batched_batch_rows": args.batch_rows,
        "batched_memory_budget_mb": args.memory_budget_mb, "batched_input_seconds": round(generated, 2),
        "batched_load_average_before": before,
        "batched_load_average_after": load_average()}


def batched_probe(source: str, batch_rows: int, budget_mb: int) -> dict[str, Any]:
    """Run the default chain batch-wise over ``source`` in this process: time, CPU time, peak memory, rows."""
    from pathlib import Path

    from workbench.plugins.cleaners.chain import run_chain_batched
    from workbench.runtime.machine import peak_memory_mb

    target = Path(source).with_name("cleaned.parquet")
    started, cpu = time.perf_counter(), time.process_time()
    totals = run_chain_batched(source, target, target.with_name("ledger.parquet"), batch_rows=batch_rows,
                               memory_budget_mb=budget_mb)
    return {"seconds": round(time.perf_counter() - started, 2), "cpu_seconds": round(time.process_time() - cpu, 2),
            "peak_memory_mb": peak_memory_mb(),
            "rows_out": totals["rows_out"], "batches": totals["batches"], "passes": totals["passes"]}


def neardup_comparison(table, options: dict[str, Any], sample: int, family: list[int], seed: int) -> dict[str, Any]:
    """Time NearDedup and datasketch on the same texts; score NearDedup's pairs on a sample."""
    import numpy as np
    import polars as pl
    from datasketch import MinHash, MinHashLSH

    from workbench.plugins.cleaners import minhash
    from workbench.plugins.cleaners.dedup import NearDedup, compared_text

    near = NearDedup(options)
    started = time.perf_counter()
    found = near.find(table)
    ours = time.perf_counter() - started
    rep = found.rep

    o = near.options
    words = compared_text(table, o.on, o.column).to_frame("t").select(minhash.normalised_words(pl.col("t"))).to_series().to_list()
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=o.threshold, num_perm=o.num_perm)
    for i, w in enumerate(words):
        w = [x for x in w if x]
        grams = [" ".join(w[k:k + o.shingle_size]).encode() for k in range(max(1, len(w) - o.shingle_size + 1))]
        m = MinHash(num_perm=o.num_perm, seed=seed)
        m.update_batch(grams)
        lsh.query(m)
        lsh.insert(i, m)
    theirs = time.perf_counter() - started

    rng = np.random.default_rng(seed)
    fam = np.asarray(family)
    in_family = np.flatnonzero(fam >= 0)
    picked_families = rng.choice(np.unique(fam[in_family]), size=min(sample // 4, len(np.unique(fam[in_family]))), replace=False)
    rows = np.union1d(in_family[np.isin(fam[in_family], picked_families)], rng.choice(table.height, size=min(sample, table.height), replace=False))
    truth = exact_pairs(minhash.shingles(compared_text(table[rows], o.on, o.column), o.shingle_size), len(rows), o.threshold)
    position = np.full(table.height, -1)
    position[rows] = np.arange(len(rows))
    both = (position[found.pairs[:, 0]] >= 0) & (position[found.pairs[:, 1]] >= 0)
    detected = {(int(a), int(b)) for a, b in position[found.pairs[both]]}  # pairs the method found and verified
    same = rep[rows][:, None] == rep[rows][None, :]
    clustered = {(int(a), int(b)) for a, b in zip(*np.nonzero(np.triu(same, 1)))}  # pairs sharing a representative
    kept = rep[rows] == rows
    residual = sum(1 for a, b in truth if kept[a] and kept[b])  # near duplicates both still in the output
    return {"neardup_seconds": round(ours, 2), "datasketch_seconds": round(theirs, 2),
            "neardup_speedup_vs_datasketch": round(theirs / ours, 1),
            "neardup_recall": _ratio(len(truth & detected), len(truth)),
            "neardup_precision": _ratio(len(truth & detected), len(detected)),
            "neardup_cluster_recall": _ratio(len(truth & clustered), len(truth)),
            "neardup_cluster_precision": _ratio(len(truth & clustered), len(clustered)),
            "neardup_kept_pairs_above_threshold": residual,
            "neardup_sample_rows": int(len(rows)), "neardup_true_pairs": len(truth)}


def _ratio(hit: int, total: int) -> float | None:
    return round(hit / total, 4) if total else None


def exact_pairs(sh, n: int, threshold: float) -> set[tuple[int, int]]:
    """All pairs of rows whose shingle sets have Jaccard >= threshold (sparse products)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    sh = sh.unique()  # sets, not bags
    codes = sh.get_column("h").rank("dense").to_numpy().astype(np.int64) - 1
    m = csr_matrix((np.ones(len(codes), dtype=np.float32), (sh.get_column("row").to_numpy(), codes)), shape=(n, int(codes.max()) + 1))
    inter = (m @ m.T).toarray()
    sizes = np.asarray(m.sum(axis=1)).ravel()
    jac = inter / np.maximum(sizes[:, None] + sizes[None, :] - inter, 1)
    a, b = np.nonzero(np.triu(jac >= threshold, 1))
    return {(int(x), int(y)) for x, y in zip(a, b)}


# -- the per-row reference: the same chain, one row at a time --------------------------------------------------

def per_row_reference(rows: list[dict[str, Any]], near_options: dict[str, Any]) -> list[dict[str, Any]]:
    """Structure, unicode, whitespace, PII, quality, exact and near dedup, row by row."""
    from workbench.plugins.cleaners.pii import CHECKED, PATTERNS, redact_checked

    subs = [(re.compile(p), re.sub(r"\$\{(\d)\}", r"\\g<\1>", r)) for t in PATTERNS for p, r in PATTERNS[t]]
    checked_any = re.compile("|".join(CHECKED.values()))
    cleaned = []
    for row in rows:
        msgs = _structure([dict(m) for m in row["messages"]])
        for m in msgs:
            text = _unicode(m["content"] or "")
            text = re.sub(r"\n{3,}", "\n\n", re.sub(r" ?\n ?", "\n", re.sub(r"[ \t\u00a0]+", " ", text))).strip()
            for pattern, repl in subs:
                text = pattern.sub(repl, text)
            if checked_any.search(text):
                text = redact_checked(text, ("IBAN", "CARD", "PHONE"))
            m["content"] = text
        cleaned.append({**row, "messages": msgs})
    return _neardup(_exact(_quality(cleaned)), near_options)


def _structure(msgs):
    msgs = [m for m in msgs if m["role"] == "system"] + [m for m in msgs if m["role"] != "system"]
    merged = []
    for m in msgs:
        if merged and merged[-1]["role"] == m["role"]:
            merged[-1]["content"] = merged[-1]["content"] + "\n\n" + m["content"]
        else:
            merged.append(m)
    while merged and merged[-1]["role"] == "user":
        merged.pop()
    return merged


def _unicode(text: str) -> str:
    import unicodedata

    from workbench.plugins.cleaners.text import CONTROL, SMART_QUOTES, ZERO_WIDTH, mojibake_table

    garbled, fixed = mojibake_table()
    if any(ch in text for ch in "ÃâÂ"):
        for bad, good in zip(garbled, fixed):
            text = text.replace(bad, good)
    text = re.sub(CONTROL, "", re.sub(ZERO_WIDTH, "", text.replace("\r\n", "\n")))
    text = unicodedata.normalize("NFKC", text)
    return "".join(SMART_QUOTES.get(ch, ch) for ch in text)


def _quality(rows):
    import statistics

    from workbench.plugins.cleaners.quality import DEFAULT_REFUSALS

    refusal = re.compile("|".join(DEFAULT_REFUSALS))
    lengths: dict[str, list[int]] = {}
    for row in rows:
        for m in row["messages"]:
            lengths.setdefault(m["role"], []).append(len(m["content"].split()))
    bounds = {}
    for role, values in lengths.items():
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        spread = q[2] - q[0]
        bounds[role] = (q[0] - 3 * spread, q[2] + 3 * spread) if spread > 0 else (float("-inf"), float("inf"))
    kept = []
    for row in rows:
        answers = [m["content"].strip() for m in row["messages"] if m["role"] == "assistant"]
        if not answers or any(len(a) < 3 or refusal.search(a.lower()) or _spam(a) for a in answers):
            continue
        if any(not bounds[m["role"]][0] <= len(m["content"].split()) <= bounds[m["role"]][1] for m in row["messages"]):
            continue
        kept.append(row)
    return kept


def _spam(answer: str) -> bool:
    from collections import Counter

    words = re.sub(r"[^\w]+", " ", answer.lower()).split()
    if len(words) < 12:
        return False
    return max(Counter(zip(words, words[1:], words[2:])).values(), default=0) >= 4


def _exact(rows):
    seen, kept = set(), []
    for row in rows:
        key = re.sub(r"[^\w\[\]]+", " ", "\n".join(f"{m['role']}: {m['content']}" for m in row["messages"]).lower()).strip()
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def _neardup(rows, options):
    from datasketch import MinHash, MinHashLSH

    size, threshold = options["shingle_size"], options["threshold"]
    lsh, kept = MinHashLSH(threshold=threshold, num_perm=options["num_perm"]), []
    for i, row in enumerate(rows):
        words = re.sub(r"[^\w\[\]]+", " ", "\n".join(f"{m['role']}: {m['content']}" for m in row["messages"]).lower()).split()
        m = MinHash(num_perm=options["num_perm"])
        m.update_batch([" ".join(words[k:k + size]).encode() for k in range(max(1, len(words) - size + 1))])
        if not lsh.query(m):
            lsh.insert(i, m)
            kept.append(row)
    return kept
