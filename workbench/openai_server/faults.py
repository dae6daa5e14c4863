"""Fault injection: make the next N requests to a path fail in a chosen way.

Tests (in process, or over HTTP through ``POST /_workbench/faults``) use it to
check that clients retry 429 and 5xx with backoff, bound their timeouts and
survive dropped connections, and that a failed job is explained.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

KINDS = ("429", "500", "drop", "slow", "job_failure")


@dataclass
class Fault:
    kind: str
    path: str = ""          # request path prefix (after /v1); "" matches every path
    method: str = ""        # "" matches every method
    count: int = 1
    retry_after: float = 1.0
    seconds: float = 5.0    # "slow": sleep this long before answering
    code: str = "invalid_training_file"   # "job_failure": the job's error object
    message: str = "injected failure"
    param: str | None = "training_file"

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path) and (not self.method or self.method.upper() == method)


class Faults:
    """A thread-safe list of pending faults, each consumed by matching requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def add(self, kind: str, **spec: Any) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        fault = Fault(kind, **spec)
        with self._lock:
            self._pending.append(fault)
        return fault

    def take(self, method: str, path: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        """The first pending fault matching the request (one use of it), or None."""
        with self._lock:
            for fault in self._pending:
                if fault.kind in kinds and fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._pending.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
