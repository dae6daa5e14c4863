"""Shared logic of the scenario generators: what the scenario types are.

The generators (``plugins/scenarios``) draw scenarios from the user's own
dataset (:mod:`.domain`), plan which rows they derive from (:mod:`.plan`),
pass candidates through quality gates (:mod:`.quality`) and turn them into
canonical rows (:mod:`.rows`). :mod:`.review` lets a UI preview, edit, accept
or reject candidates before they join a dataset.
"""

from __future__ import annotations

#: scenario type -> the behaviour the evaluation scores (snake_case, stable names)
EXPECTED_BEHAVIOR: dict[str, str] = {
    "edge_case": "acknowledge_and_redirect",
    "multi_turn_context": "refer_to_context",
    "false_premise": "correct_premise",
    "persona_tone": "adapt_tone",
    "language_complexity": "answer_correctly",
    "ambiguity": "ask_clarification",
    "interleaved_intents": "handle_all_intents",
    "synonymous_expressions": "consistent_answer",
}
SCENARIO_TYPES: tuple[str, ...] = tuple(EXPECTED_BEHAVIOR)

#: one-line description of each type (UI help, docs)
DESCRIPTIONS: dict[str, str] = {
    "edge_case": "unconventional or impossible request; acknowledge, answer playfully or redirect",
    "multi_turn_context": "a follow-up that only makes sense with the earlier turns; refer back to them",
    "false_premise": "a request built on a false premise or contradiction; politely correct it",
    "persona_tone": "the same request from an angry, terse, non-native or young customer; adapt tone, keep content",
    "language_complexity": "plain vs. long, nested phrasing of a request; answer both correctly",
    "ambiguity": "a request that can mean several things; ask a clarifying question",
    "interleaved_intents": "two unrelated requests in one message or a task switch; handle both, in order",
    "synonymous_expressions": "the same request in other words; give the same answer",
}


def check_types(types: list[str]) -> list[str]:
    """Validate scenario type names (options validators use this)."""
    unknown = [t for t in types if t not in EXPECTED_BEHAVIOR]
    if unknown:
        raise ValueError(f"unknown scenario type(s) {unknown}; known: {list(SCENARIO_TYPES)}")
    return types
