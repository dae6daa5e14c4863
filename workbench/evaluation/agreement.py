"""Inter-rater agreement of human votes: Cohen's kappa for two voters, Fleiss' kappa for more.

Kappa is agreement corrected for chance: 1 is perfect, 0 is what voters
picking at random with their own preferences would reach, below 0 is worse.
Only examples every counted voter judged enter the kappa. Krippendorff's
alpha (same scale) also takes examples only some raters judged, and
distances between ratings (``interval``: a 4 against a 5 is a small
disagreement); it is the figure for more than two raters with gaps, such as
testers rating exchanges. :func:`judge_agreement` measures how often an LLM
judge agrees with the human majority.
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
    totals: Counter[str] = Counter()
    for cnt in counts:
        totals.update(cnt)
    shares = [n / (len(items) * raters) for n in totals.values()]
    expected = sum(s * s for s in shares)
    observed = sum(p_items) / len(items)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def agreement(votes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Kappa of the voters on the examples all of them judged: Cohen's for two voters, Fleiss' for more.

    Returns ``{"voters", "examples", "method", "kappa", "raw", "alpha"}`` (raw: the share of examples on which
    every voter chose the same; alpha: Krippendorff's over every example at least two voters judged), or None
    with fewer than two voters or no example in common.
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
    units = [[by_voter[v][e] for v in voters if e in by_voter[v]] for e in set().union(*by_voter.values())]
    return {"voters": voters, "examples": len(common), "method": method, "kappa": kappa, "raw": raw,
            "alpha": krippendorff_alpha(units)}


def krippendorff_alpha(units: list[list[Any]], metric: str = "nominal") -> float | None:
    """Krippendorff's alpha over ``units`` (each: the values the raters gave one example; any number, gaps allowed).

    ``metric``: ``nominal`` (categories) or ``interval`` (numbers, squared difference). Units with fewer than two
    values are not pairable and do not count. None when undefined (fewer than two pairable values, or one value
    throughout).
    """
    if metric not in ("nominal", "interval"):
        raise ValueError(f"metric must be nominal or interval, got {metric!r}")

    def delta(a: Any, b: Any) -> float:
        return float(a != b) if metric == "nominal" else (float(a) - float(b)) ** 2

    pairable = [u for u in units if len(u) >= 2]
    n = sum(len(u) for u in pairable)
    if n < 2:
        return None
    observed = sum(sum(delta(a, b) for i, a in enumerate(u) for j, b in enumerate(u) if i != j) / (len(u) - 1)
                   for u in pairable)
    counts = Counter(v for u in pairable for v in u)
    expected = sum(na * nb * delta(a, b) for a, na in counts.items() for b, nb in counts.items()) / (n - 1)
    return None if expected == 0 else 1.0 - observed / expected


def majority(labels: list[str]) -> str | None:
    """The label most raters gave, or None on a tie for first place."""
    top = Counter(labels).most_common(2)
    return None if not top or (len(top) == 2 and top[0][1] == top[1][1]) else top[0][0]


def judge_agreement(judge: dict[str, str], votes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How often the LLM judge's winner (example id -> base/tuned/tie) is the human majority's (calibration).

    Examples without a clear human majority or without a judge verdict do not count. Returns
    ``{"examples", "agreement", "kappa"}`` (kappa: Cohen's, judge against majority) or None without overlap.
    """
    by_example: dict[str, list[str]] = {}
    for voter_votes in ratings(votes).values():
        for example, winner in voter_votes.items():
            by_example.setdefault(example, []).append(winner)
    pairs = [(judge[e], m) for e, labels in by_example.items() if e in judge and (m := majority(labels)) is not None]
    if not pairs:
        return None
    from sklearn.metrics import cohen_kappa_score

    a, b = zip(*pairs)
    kappa = None if len(set(a) | set(b)) < 2 else float(cohen_kappa_score(a, b, labels=list(CATEGORIES)))
    return {"examples": len(pairs), "agreement": sum(x == y for x, y in pairs) / len(pairs), "kappa": kappa}


def judge_winners(verdicts: list[dict[str, Any]], ids: list[str]) -> dict[str, str]:
    """Example id -> the pairwise judge's winner (base = A, tuned = B) from its two-order verdicts (``judge`` metric).

    Examples whose two orders give no readable verdict are left out.
    """
    from workbench.runtime.discovery import get_registry

    judge: Any = get_registry().get("metric", "judge")  # the built-in judge, found like any plugin's metric
    out = {}
    for example, v in zip(ids, verdicts):
        prefs = [p for p in (judge.preference(v.get("ab"), b_is_first=False),
                             judge.preference(v.get("ba"), b_is_first=True)) if p is not None]
        if prefs:
            mean = sum(prefs) / len(prefs)
            out[str(example)] = "tuned" if mean > 0.5 else "base" if mean < 0.5 else "tie"
    return out
