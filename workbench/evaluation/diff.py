"""Word-level diff of two answers, for the biggest wins and worst regressions."""

from __future__ import annotations

import difflib


def word_diff(before: str | None, after: str | None) -> list[tuple[str, str]]:
    """Segments ``(op, text)`` with op ``=`` (kept), ``-`` (only before) or ``+`` (only after)."""
    a, b = (before or "").split(), (after or "").split()
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("=", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(b[j1:j2])))
    return out
