"""Number formatting and verdicts shared by the HTML and Markdown renderers."""

from __future__ import annotations

from typing import Any

ALPHA = 0.05


def num(x: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; an em dash for missing values."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"
    return str(x)


def ci(c: dict[str, Any]) -> str:
    if c.get("ci_low") is None:
        return "—"
    return f"[{num(c['ci_low'])}, {num(c['ci_high'])}]"


def score_ci(cell: dict[str, Any] | None) -> str:
    """``score [low, high]`` of a runs-table cell; an em dash when the model has no score."""
    if not cell:
        return "—"
    ci_ = cell.get("ci")
    return num(cell.get("score")) + (f" [{num(ci_[0])}, {num(ci_[1])}]" if ci_ else "")


def wtl(c: dict[str, Any]) -> str:
    w = c.get("win_tie_loss")
    return f"{w['wins']} / {w['ties']} / {w['losses']}" if w else "—"


def verdict(c: dict[str, Any]) -> str:
    """better / worse / no significant difference / not comparable, at the 5% level."""
    if c.get("skipped"):
        return f"not compared: {c['skipped']}"
    p, d, hib = c.get("p_value"), c.get("difference"), c.get("higher_is_better")
    if p is None or d is None:
        return "not compared"
    if p >= ALPHA or d == 0:
        return "no significant difference"
    if hib is None:
        return "significantly higher" if d > 0 else "significantly lower"
    return "better" if (d > 0) == bool(hib) else "worse"


def comparison_rows(comparisons: dict[str, Any]) -> list[list[Any]]:
    """Rows of the comparison table: metric, base, other, difference, CI, p, W/T/L, verdict."""
    return [[metric, c.get("base"), c.get("other"), c.get("difference"), ci(c), c.get("p_value"), wtl(c), verdict(c)]
            for metric, c in comparisons.items()]


COMPARISON_HEADERS = ["metric", "base", "other", "difference", "95% CI", "p-value", "wins / ties / losses", "verdict"]
