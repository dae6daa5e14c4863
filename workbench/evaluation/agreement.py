"""Inter-rater agreement of human votes: Cohen's kappa for two voters, Fleiss' kappa for more.

Kappa is agreement corrected for chance: 1 is perfect, 0 is what voters
picking at random with their own preferences would reach, below 0 is worse.
Only examples every counted voter judged enter the figure.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

CATEGORIES = ("base", "tuned", "tie")


def ratings(votes: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """voter -> example id -> winner (the latest vote of each voter on each example)."""
    out: dict[str, dict[str, str]] = {}
    for v in votes:
        out.setdefault(v.get("voter") or "anonymous", {})[str(v["example_id"])] = v["winner"]
    return out


def fleiss_kappa(items: list[list[str]]) -> float | None:
    """Fleiss' kappa over items each rated by the same number of raters (None when it is undefined)."""
    if not items or len(items[0]) < 2:
        return None
    raters = len(items[0])
    counts = [Counter(item) for item in items]
    p_items = [(sum(c * c for c in cnt.values()) - raters) / (raters * (raters - 1)) for cnt in counts]
    totals = Counter()
    for cnt in counts:
        totals.update(cnt)
    shares = [n / (len(items) * raters) for n in totals.values()]
    expected = sum(s * s for s in shares)
    observed = sum(p_items) / len(items)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def agreement(votes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Kappa of the voters on the examples all of them judged: Cohen's for two voters, Fleiss' for more.

    Returns ``{"voters", "examples", "method", "kappa", "raw"}`` (raw: the share of examples on which every
    voter chose the same), or None with fewer than two voters or no example in common.
    """
    by_voter = ratings(votes)
    voters = sorted(by_voter)
    if len(voters) < 2:
        return None
    common = sorted(set.intersection(*(set(by_voter[v]) for v in voters)))
    if not common:
        return None
    items = [[by_voter[v][e] for v in voters] for e in common]
    raw = sum(len(set(item)) == 1 for item in items) / len(items)
    if len(voters) == 2:
        from sklearn.metrics import cohen_kappa_score

        a, b = zip(*items)
        kappa = None if len(set(a) | set(b)) < 2 else float(cohen_kappa_score(a, b, labels=list(CATEGORIES)))
        method = "Cohen's kappa"
    else:
        kappa, method = fleiss_kappa(items), "Fleiss' kappa"
    return {"voters": voters, "examples": len(common), "method": method, "kappa": kappa, "raw": raw}
