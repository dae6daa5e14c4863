"""PII redaction of one logged text, with the ``pii`` cleaner's own patterns and checks."""

from __future__ import annotations

from typing import Any


def redact(text: str) -> str:
    """Replace every PII type the ``pii`` cleaner knows with its typed placeholder (``[EMAIL]``, ...)."""
    from workbench.runtime.discovery import get_registry

    cleaner: Any = get_registry().get("cleaner", "pii")()  # the built-in cleaner, found like any plugin's
    return cleaner.redact_text(text)
