"""Invalid component options as one readable line instead of pydantic's multi-line dump."""

from __future__ import annotations


def options_problem(exc: BaseException) -> str:
    """``option 'evry': unknown option; option 'every': must be an integer`` from a ValidationError.

    Anything that is not a pydantic ValidationError is shown as its message.
    """
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors():
        name = ".".join(str(p) for p in error.get("loc", ())) or "options"
        message = ("unknown option" if error.get("type") == "extra_forbidden"
                   else str(error.get("msg", "invalid")).removeprefix("Value error, "))
        if "input" in error and error.get("type") != "extra_forbidden" and not isinstance(error["input"], dict):
            message += f" (got {error['input']!r})"
        parts.append(f"option {name!r}: {message}")
    return "; ".join(parts)
