"""Word diffs and user text as Streamlit Markdown, escaped so row text never becomes markup.

Takes the ops of :func:`workbench.runtime.preview.word_diff` (``{"op", "text"}``,
whitespace kept) or the segments of :func:`workbench.evaluation.diff.word_diff`
(``(op, text)``, words joined by spaces).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:=^\"'&%@])")
_OPS = {"equal": "=", "delete": "-", "insert": "+"}


def escape(text: str) -> str:
    """Text shown literally by ``st.markdown``: every Markdown, LaTeX and directive character escaped."""
    return _PUNCT.sub(r"\\\1", text)


def text_markdown(text: str) -> str:
    """Plain text as Markdown, line breaks kept."""
    return "  \n".join(escape(line) for line in (text or "").split("\n"))


def _mark(op: str, piece: str) -> str:
    if not piece.strip():
        return piece
    lead, trail = piece[:len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()):]
    core = escape(piece.strip())
    return lead + (core if op == "=" else f":red[~~{core}~~]" if op == "-" else f":green[**{core}**]") + trail


def diff_markdown(ops: Iterable[Any]) -> str:
    """Removed words struck through in red, added ones bold green; line breaks kept."""
    segments: list[tuple[str, str]] = [(_OPS.get(o["op"]) or o["op"], o["text"]) if isinstance(o, dict) else (o[0], o[1] + " ") for o in ops]
    lines = []
    current, previous = "", "="
    for op, text in segments:
        if op == "+" and previous == "-" and current and not current[-1].isspace():
            current += " "  # a replaced word: keep the struck and the new word apart
        previous = op
        parts = text.split("\n")
        for i, piece in enumerate(parts):
            if i:
                lines.append(current)
                current = ""
            current += _mark(op, piece)
    lines.append(current)
    return "  \n".join(line.rstrip() for line in lines)
