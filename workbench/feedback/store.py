"""The feedback store: testers' keys, logged exchanges and their feedback in one SQLite file.

One file per project (``runs/feedback.sqlite`` by default) in WAL mode, so the
server's request threads, the Playground and ``workbench feedback export`` can
read and write at once. Each call opens its own short-lived connection (SQLite
connections are not shared across threads); writes wait up to ``timeout``
seconds for a concurrent writer. Keys are stored as SHA-256 hashes only: a key
is 32 random bytes, so a fast hash is enough, and the key itself is shown once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

DEFAULT_PATH = Path("runs") / "feedback.sqlite"
KINDS = ("rating", "correction", "comment", "preference")
SCALES = {"thumbs": (0, 1), "1-5": (1, 5)}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS testers (name TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS exchanges (
    id TEXT PRIMARY KEY, tester TEXT NOT NULL, model TEXT NOT NULL, messages TEXT NOT NULL, answer TEXT NOT NULL,
    latency REAL NOT NULL, first_token REAL, settings TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, exchange_id TEXT NOT NULL REFERENCES exchanges(id), tester TEXT NOT NULL,
    kind TEXT NOT NULL, rating INTEGER, scale TEXT, text TEXT, other_id TEXT REFERENCES exchanges(id),
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_exchange ON feedback(exchange_id);
"""


def new_exchange_id() -> str:
    return "ex-" + uuid.uuid4().hex[:20]


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class FeedbackStore:
    """Read and write the feedback database at ``path`` (created on first use)."""

    def __init__(self, path: Path | str = DEFAULT_PATH, *, timeout: float = 30.0) -> None:
        self.path, self.timeout = Path(path), timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection for one transaction: committed on success, rolled back on an error."""
        with closing(sqlite3.connect(self.path, timeout=self.timeout)) as con:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA foreign_keys=ON")
            with con:
                yield con

    # --- testers' keys -------------------------------------------------------------------------------------------

    def add_tester(self, name: str) -> str:
        """Create ``name``'s key and return it (it is not stored, only its hash)."""
        if not name.strip():
            raise WorkbenchError("a tester needs a name", hint="workbench serve keys add ALICE")
        key = "wb-" + secrets.token_urlsafe(32)
        try:
            with self._connect() as con:
                con.execute("INSERT INTO testers VALUES (?, ?, ?)", (name, key_hash(key), time.time()))
        except sqlite3.IntegrityError:
            raise WorkbenchError(f"tester {name!r} already has a key in {self.path}",
                                 hint=f"remove it first: workbench serve keys remove {name}") from None
        return key

    def remove_tester(self, name: str) -> bool:
        with self._connect() as con:
            return con.execute("DELETE FROM testers WHERE name = ?", (name,)).rowcount > 0

    def testers(self) -> list[str]:
        with self._connect() as con:
            return [r["name"] for r in con.execute("SELECT name FROM testers ORDER BY name")]

    def tester_for(self, key: str) -> str | None:
        """The tester a key belongs to, or None for an unknown key."""
        with self._connect() as con:
            row = con.execute("SELECT name FROM testers WHERE key_hash = ?", (key_hash(key),)).fetchone()
        return row["name"] if row else None

    # --- exchanges and feedback ----------------------------------------------------------------------------------

    def log_exchange(self, *, exchange_id: str, tester: str, model: str, messages: list[dict[str, Any]], answer: str, latency: float,
                     settings: dict[str, Any], first_token: float | None = None) -> None:
        """Store one prompt/answer exchange (already redacted by the caller) under ``exchange_id``."""
        with self._connect() as con:
            con.execute("INSERT INTO exchanges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (exchange_id, tester, model, json.dumps(messages, ensure_ascii=False), answer, latency,
                         first_token, json.dumps(settings, sort_keys=True), time.time()))

    def exchange(self, exchange_id: str) -> dict[str, Any]:
        with self._connect() as con:
            row = con.execute("SELECT * FROM exchanges WHERE id = ?", (exchange_id,)).fetchone()
        if row is None:
            raise WorkbenchError(f"no exchange {exchange_id!r} in {self.path}")
        return _exchange(row)

    def exchanges(self) -> list[dict[str, Any]]:
        with self._connect() as con:
            return [_exchange(r) for r in con.execute("SELECT * FROM exchanges ORDER BY created, id")]

    def add_feedback(self, exchange_id: str, tester: str, kind: str, *, rating: int | None = None,
                     scale: str | None = None, text: str | None = None, other_id: str | None = None) -> int:
        """Record one piece of feedback after checking it; returns its id.

        ``rating`` on ``scale`` (``thumbs``: 0/1, ``1-5``); ``correction``/``comment``: ``text``;
        ``preference``: ``exchange_id`` is the chosen answer, ``other_id`` the rejected one, to the same prompt.
        """
        if kind not in KINDS:
            raise WorkbenchError(f"feedback kind {kind!r} is not one of {', '.join(KINDS)}")
        first = self.exchange(exchange_id)
        if kind == "rating":
            if scale not in SCALES or not isinstance(rating, int) or not SCALES[scale][0] <= rating <= SCALES[scale][1]:
                raise WorkbenchError(f"rating {rating!r} on scale {scale!r}: give scale 'thumbs' with 0 or 1, "
                                     "or '1-5' with 1..5")
        elif kind in ("correction", "comment"):
            if not isinstance(text, str) or not text.strip():
                raise WorkbenchError(f"{kind} on {exchange_id} needs a non-empty text")
        else:
            other = self.exchange(str(other_id))
            if other_id == exchange_id or other["messages"] != first["messages"]:
                raise WorkbenchError(f"preference {exchange_id} over {other_id}: both answers must be to the "
                                     "same prompt, from two different exchanges")
        with self._connect() as con:
            cur = con.execute("INSERT INTO feedback (exchange_id, tester, kind, rating, scale, text, other_id, created)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              (exchange_id, tester, kind, rating, scale, text, other_id, time.time()))
            return int(cur.lastrowid or 0)

    def feedback(self) -> list[dict[str, Any]]:
        with self._connect() as con:
            return [dict(r) for r in con.execute("SELECT * FROM feedback ORDER BY id")]


def _exchange(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["messages"], out["settings"] = json.loads(out["messages"]), json.loads(out["settings"])
    return out
