"""How far testers agree: Krippendorff's alpha over ratings of the same exchange and choices on the same pair.

Ratings are put on the 1-5 scale (thumbs: down = 1, up = 5) and compared as
intervals; A/B preferences are compared as categories (which answer won) on
each pair of exchanges. Each tester's latest feedback of a kind counts.
"""

from __future__ import annotations

from typing import Any

from workbench.evaluation.agreement import krippendorff_alpha
from workbench.feedback.store import FeedbackStore


def five_point(item: dict[str, Any]) -> float:
    """A rating on the 1-5 scale: thumbs down = 1, up = 5."""
    return 1.0 + 4.0 * item["rating"] if item["scale"] == "thumbs" else float(item["rating"])


def tester_agreement(store: FeedbackStore) -> dict[str, Any]:
    """``{"ratings": {...}, "preferences": {...}}``, each with ``alpha``, ``examples`` (rated by two or more
    testers) and ``testers``."""
    ratings: dict[str, dict[str, float]] = {}
    choices: dict[tuple[str, str], dict[str, str]] = {}
    for f in store.feedback():  # in id order: a later item of the same tester replaces the earlier one
        if f["kind"] == "rating":
            ratings.setdefault(f["exchange_id"], {})[f["tester"]] = five_point(f)
        elif f["kind"] == "preference":
            pair = tuple(sorted((f["exchange_id"], f["other_id"])))
            choices.setdefault(pair, {})[f["tester"]] = f["exchange_id"]

    def summary(by_example: dict[Any, dict[str, Any]], metric: str) -> dict[str, Any]:
        units = [list(by_tester.values()) for by_tester in by_example.values() if len(by_tester) >= 2]
        testers = sorted({t for by_tester in by_example.values() for t in by_tester})
        return {"alpha": krippendorff_alpha(units, metric), "examples": len(units), "testers": testers}

    return {"ratings": summary(ratings, "interval"), "preferences": summary(choices, "nominal")}
