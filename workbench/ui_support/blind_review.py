"""Blind review of base against tuned answers: one example at a time, no model names, several voters.

Every voter judges the same review set of a run and compared model (a seeded
sample of its examples, fixed in ``<run>/blind_review.json`` once voting
starts, so agreement is measured on common examples). The two answers of an
example appear as A and B in an order drawn from a hash of voter, run, model
and example: stable across reloads, different between voters, and unrelated
to the order of the other examples. Votes go to the run's ``votes.jsonl``
(:mod:`workbench.evaluation.votes`), so a voter's progress is whatever they
have voted on; tallies and agreement are for after a voter has finished.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import WorkbenchError
from workbench.evaluation import agreement, votes
from workbench.runtime import store

REVIEW_FILE = "blind_review.json"
#: review set size offered before anyone has voted
DEFAULT_SIZE = 10


@dataclass
class BlindPair:
    example_id: str
    question: str
    reference: str
    a: str
    b: str
    #: which model answer A is: "base" or "tuned" (never shown before the voter finishes)
    a_is: str


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def stored_set(run_dir: str | Path, model: str) -> list[str] | None:
    """The review set fixed for ``model`` when voting started (None before)."""
    path = Path(run_dir) / REVIEW_FILE
    return (store.read_json(path) if path.exists() else {}).get(model)


def sample_set(run_dir: str | Path, model: str, ids: list[str], size: int = DEFAULT_SIZE) -> list[str]:
    """A seeded sample of ``size`` example ids (the same for every voter of this run and model)."""
    picked = sorted((str(i) for i in ids), key=lambda i: _digest(Path(run_dir).name, model, i))
    return picked[:max(1, size)]


def fix_review_set(run_dir: str | Path, model: str, ids: list[str]) -> None:
    """Store the review set when the first vote is cast; refused once votes on another set exist."""
    path = Path(run_dir) / REVIEW_FILE
    current = store.read_json(path) if path.exists() else {}
    if current.get(model) == ids:
        return
    if current.get(model) and any(v.get("model") == model for v in votes.load_votes(Path(run_dir))):
        raise WorkbenchError(f"the review set of {model} is fixed: voters have started on it",
                             hint="every voter judges the same examples so that their agreement can be measured")
    store.write_json(path, current | {model: ids})


def pair(row: dict[str, Any], voter: str, run_dir: str | Path, model: str) -> BlindPair:
    """One example of :func:`workbench.ui_support.evaluation.answers` as A/B in this voter's order."""
    flip = random.Random(_digest(voter, Path(run_dir).name, model, str(row["id"]))).random() < 0.5
    base, tuned = row["base_answer"] or "", row["answer"] or ""
    return BlindPair(str(row["id"]), row["question"] or "", row.get("reference") or "",
                     tuned if flip else base, base if flip else tuned, "tuned" if flip else "base")


def voter_votes(run_dir: str | Path, voter: str, model: str) -> dict[str, str]:
    """example id -> winner of this voter's latest votes on ``model``."""
    return {v["example_id"]: v["winner"] for v in votes.load_votes(Path(run_dir))
            if v.get("voter") == voter and v.get("model") == model}


def next_example(review: list[str], done: dict[str, str]) -> str | None:
    """The first example of the set this voter has not judged (None: finished)."""
    return next((i for i in review if i not in done), None)


def cast(run_dir: str | Path, p: BlindPair, choice: str, voter: str, model: str) -> dict[str, Any]:
    """Store the voter's choice ("A", "B" or "tie") as base / tuned / tie."""
    if choice not in ("A", "B", "tie"):
        raise ValueError(f"choice must be A, B or tie, got {choice!r}")
    if not voter.strip():
        raise WorkbenchError("a vote needs a voter name", hint="type your name above the first example")
    b_is = "base" if p.a_is == "tuned" else "tuned"
    winner = "tie" if choice == "tie" else p.a_is if choice == "A" else b_is
    return votes.add_vote(Path(run_dir), p.example_id, winner, voter=voter.strip(), model=model)


def results(run_dir: str | Path, model: str, review: list[str]) -> dict[str, Any]:
    """Tallies on the review set, overall and per voter, and the agreement of the voters who finished."""
    cast_votes = [v for v in votes.load_votes(Path(run_dir)) if v.get("model") == model and v["example_id"] in review]
    per_voter = pl.DataFrame([{"voter": v.get("voter"), "winner": v["winner"]} for v in cast_votes],
                             schema={"voter": pl.Utf8, "winner": pl.Utf8})
    counts = {w: 0 for w in votes.WINNERS} | dict(per_voter.group_by("winner").len().iter_rows())
    table = (per_voter.pivot(on="winner", index="voter", values="winner", aggregate_function="len")
             .fill_null(0) if per_voter.height else pl.DataFrame({"voter": []}))
    for w in votes.WINNERS:
        if w not in table.columns:
            table = table.with_columns(pl.lit(0).alias(w))
    table = table.select("voter", *votes.WINNERS).with_columns(
        pl.sum_horizontal(*votes.WINNERS).alias("judged")).sort("voter")
    finished = [r["voter"] for r in table.iter_rows(named=True) if r["judged"] == len(review)]
    return {"tally": counts, "per_voter": table, "finished": finished,
            "agreement": agreement.agreement([v for v in cast_votes if v.get("voter") in finished])}
