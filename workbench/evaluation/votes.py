"""Human preference votes on base vs tuned answers, stored in the run folder.

The UI collects them; the report tallies them. One JSON line per vote in
``<run>/votes.jsonl``; a later vote on the same example by the same voter
replaces the earlier one in the tally.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

WINNERS = ("base", "tuned", "tie")


def votes_path(run_dir: Path) -> Path:
    return Path(run_dir) / "votes.jsonl"


def add_vote(run_dir: Path, example_id: str, winner: str, *, voter: str = "anonymous", model: str | None = None) -> dict[str, Any]:
    """Record one vote; ``winner`` is base, tuned or tie."""
    if winner not in WINNERS:
        raise ValueError(f"winner must be one of {WINNERS}, got {winner!r}")
    vote = {"example_id": str(example_id), "winner": winner, "voter": voter, "model": model, "time": time.time()}
    path = votes_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(vote, ensure_ascii=False) + "\n")
    return vote


def load_votes(run_dir: Path) -> list[dict[str, Any]]:
    """Every vote, latest per (voter, example, model) only."""
    path = votes_path(run_dir)
    if not path.exists():
        return []
    latest: dict[tuple, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            v = json.loads(line)
            latest[(v.get("voter"), v["example_id"], v.get("model"))] = v
    return list(latest.values())


def tally(votes: list[dict[str, Any]]) -> dict[str, int]:
    counts = {w: 0 for w in WINNERS}
    for v in votes:
        counts[v["winner"]] += 1
    return counts
