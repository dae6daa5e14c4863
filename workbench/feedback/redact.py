"""PII redaction of one logged text, with the ``pii`` cleaner's own patterns and checks."""

from __future__ import annotations


def redact(text: str) -> str:
    """Replace every PII type the ``pii`` cleaner knows with its typed placeholder (``[EMAIL]``, ...)."""
    import polars as pl

    from plugins.cleaners.pii import ALL_TYPES, CHECKED, PATTERNS, redact_checked

    series = pl.Series([text])
    for kind in ALL_TYPES:  # the same order and (polars) patterns as the cleaner
        for pattern, replacement in PATTERNS.get(kind, []):
            series = series.str.replace_all(pattern, replacement)
    return redact_checked(series[0], tuple(t for t in ALL_TYPES if t in CHECKED))
