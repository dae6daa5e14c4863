"""Loading: streaming validation with the compiled fast path against the per-line checks it replaces.

Writes a synthetic support-chat JSONL (about 420 bytes a conversation, one
malformed line in 1,000), then validates it in a fresh subprocess per path,
so each path's peak memory (``VmHWM``) is its own; and converts it to
Parquet with the fast path. Both paths stream batch by batch. Times include
start-up (imports, format detection). ``cpu_seconds`` (the process's CPU
time, all threads) is reported beside wall time: on a shared machine it is
the figure that does not depend on the other processes.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from workbench.runtime.machine import load_average, peak_memory_mb

HELP = "streaming validation: fast path vs the per-line checks (rows/s, peak memory)"

_PROBE = """
import json, sys
from workbench.bench.load import probe
print(json.dumps(probe(sys.argv[1], sys.argv[2], sys.argv[3] == "1")))
"""


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=200_000, help="synthetic conversations (the issue uses 1000000)")
    parser.add_argument("--per-line-rows", type=int, default=None,
                        help="rows the per-line path runs on (default: all; fewer are scaled up, as said in the JSON)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl",
                        help="the corpus as chat JSONL, or as CSV (id, system, prompt, response)")


def run(args) -> dict[str, Any]:
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        path = Path(tmp) / f"support.{getattr(args, 'format', 'jsonl')}"
        write_corpus(path, args.rows, args.seed)
        size_mb = path.stat().st_size / 1e6
        fast = _measure("validate", path, fast=True)
        convert = _measure("convert", path, fast=True, target=Path(tmp) / "support.parquet")
        per_line_rows = min(args.per_line_rows or args.rows, args.rows)
        per_line_path = path
        if per_line_rows < args.rows:
            per_line_path = Path(tmp) / f"head{path.suffix}"
            with path.open("rb") as src, per_line_path.open("wb") as dst:
                for _, line in zip(range(per_line_rows + (path.suffix == ".csv")), src):  # CSV: and the header
                    dst.write(line)
        slow = _measure("validate", per_line_path, fast=False)
    return {
        "rows": args.rows, "format": path.suffix[1:], "file_mb": round(size_mb, 1),
        "rows_valid": fast["rows_valid"], "rows_invalid": fast["rows_invalid"],
        "seconds": fast["seconds"], "rows_per_second": round(args.rows / fast["seconds"]),
        "cpu_seconds": fast["cpu_seconds"], "rows_per_cpu_second": round(args.rows / fast["cpu_seconds"]),
        "peak_memory_mb": fast["peak_memory_mb"],
        "convert_parquet_seconds": convert["seconds"], "convert_parquet_peak_memory_mb": convert["peak_memory_mb"],
        "per_line_rows": per_line_rows, "per_line_scaled": per_line_rows < args.rows,
        "per_line_seconds": round(slow["seconds"] * args.rows / per_line_rows, 2),
        "per_line_rows_per_second": round(per_line_rows / slow["seconds"]),
        "per_line_rows_per_cpu_second": round(per_line_rows / slow["cpu_seconds"]),
        "per_line_peak_memory_mb": slow["peak_memory_mb"],
        "speedup_vs_per_line": round((args.rows / fast["seconds"]) / (per_line_rows / slow["seconds"]), 1),
        "same_counts": slow["rows_read"] == per_line_rows and (per_line_rows < args.rows or
                                                                (slow["rows_valid"], slow["rows_invalid"])
                                                                == (fast["rows_valid"], fast["rows_invalid"])),
        "load_average_before": load_before, "load_average_after": load_average(), "cores": _cores(),
    }


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _measure(what: str, path: Path, fast: bool, target: Path | None = None) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _PROBE, what, str(path) + ("|" + str(target) if target else ""),
                          "1" if fast else "0"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench load: the {what} probe failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout)


def probe(what: str, paths: str, fast: bool) -> dict[str, Any]:
    """Run one path in this (fresh) process: its time and this process's peak memory."""
    from workbench.io import write_frames
    from workbench.io.loader import TableStream

    source, _, target = paths.partition("|")
    started, cpu_started = time.perf_counter(), time.process_time()
    stream = TableStream(source, keep_quarantined=False, fast=fast, build_rows=what == "convert")
    if what == "convert":
        write_frames(stream, target)
    else:
        for _ in stream:
            pass
    result = stream.result()
    return {"seconds": round(time.perf_counter() - started, 2), "cpu_seconds": round(time.process_time() - cpu_started, 2),
            "rows_read": result.rows_read,
            "rows_valid": result.rows_valid, "rows_invalid": result.rows_quarantined,
            "peak_memory_mb": peak_memory_mb()}


TOPICS = ("order", "refund", "invoice", "password", "delivery", "subscription", "warranty", "address")


def write_corpus(path: Path, rows: int, seed: int) -> None:
    """Support conversations of about 500 bytes; one record in 1,000 is broken (truncated or a NUL byte).

    A ``.csv`` path gets the same conversations as id, system, prompt and
    response columns (a broken record has a NUL byte or an empty response).
    """
    import csv

    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        table = csv.writer(fh) if path.suffix == ".csv" else None
        if table is not None:
            table.writerow(["id", "system", "prompt", "response"])
        for i in range(rows):
            topic = rng.choice(TOPICS)
            turns = ["You are a helpful support agent for an online shop.",
                     f"Hi, I have a question about my {topic} #{rng.randrange(10**6)}. "
                     f"It has been {rng.randrange(2, 20)} days and nothing happened yet.",
                     f"Thanks for reaching out about your {topic}. I checked ticket "
                     f"{rng.randrange(10**5)}: it is being handled and you will hear "
                     f"from us within {rng.randrange(1, 5)} working days."]
            broken = i % 1000 == 999
            if table is not None:
                if broken:
                    turns[2] = "" if i % 2000 == 999 else turns[2].replace("us", "u\x00s")
                table.writerow([f"t{i}", *turns])
                continue
            obj = {"id": f"t{i}", "messages": [{"role": role, "content": text} for role, text in
                                               zip(("system", "user", "assistant"), turns, strict=True)]}
            line = json.dumps(obj)
            if broken:
                line = line[:-20] if i % 2000 == 999 else line.replace("shop", "sh\x00op")
            fh.write(line + "\n")
