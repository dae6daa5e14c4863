"""The built-in behaviour rules: one small, transparent check per ``expected_behavior``.

Every rule gets a :class:`Case` (the answer, the prompt turns, the reference,
the answers of the other rows of the same source) and returns a
:class:`Verdict`: passed (``None`` = could not be judged), the rule's name,
a one-line reason a reader can check and the evidence (matched cue, score,
threshold). The scenario generators' behaviours (``workbench.scenarios``):

| behaviour | passes when |
|---|---|
| ``acknowledge_and_redirect`` | an acknowledgement cue ("can't", "unfortunately") and a redirect cue ("if you", "happy to") |
| ``refer_to_context`` | the answer repeats a fact of the earlier turns (order id, amount) or >= 2 of their content words not in the last user turn |
| ``correct_premise`` | a correction cue ("actually", "mix-up", "can't confirm") or a clarifying question |
| ``adapt_tone`` | the persona's tone check (angry: empathy cue; terse: short; non-native / child: short sentences; formal: polite cue) and, with a reference, similarity >= threshold |
| ``answer_correctly`` | similarity to the reference >= threshold |
| ``ask_clarification`` | the answer asks a question or uses a clarification cue |
| ``handle_all_intents`` | every request of the last user turn (split on "also", "second", ... or sentences) shares a content word with the answer, in order |
| ``consistent_answer`` | mean similarity to the answers of the other rows with the same source >= threshold (the reference when none was evaluated) |

Similarity is MiniLM cosine (``semantic``) or sacrebleu sentence chrF / 100,
averaged over both directions (``chrf``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: how a similarity-based rule reads the similarity: backend -> behaviour -> threshold
DEFAULT_THRESHOLDS: dict[str, dict[str, float]] = {
    "semantic": {"answer_correctly": 0.6, "adapt_tone": 0.5, "consistent_answer": 0.7},
    "chrf": {"answer_correctly": 0.35, "adapt_tone": 0.3, "consistent_answer": 0.45},
}

STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being below between both but by
can could did do does doing done down during each few for from further get got had has have having he her here hers
him his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other our
ours out over own please same she should so some such than thank thanks that the their them then there these they
this those through to too under until up very was we were what when where which while who whom why will with would
you your yours yourself hi hello hey yes okay ok sure also unrelated second first two things thing another one need
want like know tell help question different topic now just dont can't cannot i'm i've i'd it's that's what's
""".split())

ACKNOWLEDGE = ["can't", "cannot", "can not", "unable", "not able", "unfortunately", "afraid", "not possible",
               "impossible", "out of reach", "don't", "doesn't", "isn't", "won't", "sadly", "no way", "not something",
               "wish i could", "that would be", "sense of adventure", "beyond", "only deliver", "only ship"]
REDIRECT = ["instead", "if you", "i can", "i'd be happy", "happy to", "glad to", "here is what", "here's what",
            "alternatively", "you could", "you can", "let me", "would you like", "how about", "what i can",
            "meanwhile", "help with", "as for", "i'll"]
CORRECTION = ["actually", "in fact", "not correct", "incorrect", "not true", "isn't", "is not", "aren't", "doesn't",
              "does not", "misconception", "to clarify", "contrary", "mistaken", "that's not", "no,", "mix-up",
              "mixup", "can't confirm", "cannot confirm", "can't see", "don't see", "no record", "can't have",
              "not possible", "we don't", "there may be", "confusion", "double-check"]
CLARIFY = ["could you tell", "can you tell", "could you clarify", "can you clarify", "please specify", "do you mean",
           "which one", "let me know which", "could you describe", "what exactly", "more details", "confirm",
           "double-check", "which", "what would you like"]
EMPATHY = ["sorry", "apolog", "understand", "frustrat", "patience", "i hear you", "regret", "that must"]
POLITE = ["please", "thank", "happy to", "glad", "certainly", "of course", "good afternoon", "good morning",
          "hello", "welcome", "pleasure", "kind regards", "would be", "i'd be"]
RUDE = ["stupid", "calm down", "obviously", "as i already said", "not my problem", "whatever", "shut up", "idiot",
        "deal with it", "read the", "dumb"]
#: persona -> cues in the user's turn that reveal it
PERSONAS: dict[str, list[str]] = {
    "angry": ["ridiculous", "unacceptable", "furious", "angry", "worst", "fed up", "!!", "three times", "useless",
              "sick of"],
    "terse": ["short answer", "no fluff", "briefly", "tl;dr", "in one line", "keep it short", "quick answer",
              "just the answer", "one sentence"],
    "non_native": ["my english", "english is not", "not so good english", "bad english", "sorry for my english"],
    "child": ["my mom", "my mum", "my dad", "my teacher", "years old"],
    "formal": ["good afternoon", "good morning", "good evening", "most grateful", "dear ", "kind regards",
               "i would be grateful", "would you be so kind"],
}
#: interleaving markers that start another request inside one user turn
SPLIT_MARKERS = re.compile(r"(?:\bfirst(?:ly)?(?=,)[,]?|\b(?:also|second(?:ly)?|another thing|one more thing|different topic(?: now)?|"
                           r"unrelated|besides|on another note|and then|by the way|btw)\b[,:]?)", re.IGNORECASE)
_WORD = re.compile(r"[\w'$€£#.-]*\w", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass
class Case:
    """What a rule sees of one example."""

    id: Any
    behavior: str
    answer: str
    prompt: list[dict[str, Any]] = field(default_factory=list)
    reference: str | None = None
    #: answers of the other evaluated rows with the same source (consistent_answer)
    group_answers: list[str] = field(default_factory=list)

    @property
    def last_user(self) -> str:
        return next((t.get("content") or "" for t in reversed(self.prompt) if t.get("role") == "user"), "")

    @property
    def earlier_turns(self) -> list[dict[str, Any]]:
        """Turns before the last user turn, without the system prompt."""
        last = max((i for i, t in enumerate(self.prompt) if t.get("role") == "user"), default=-1)
        return [t for t in self.prompt[:max(last, 0)] if t.get("role") != "system"]


@dataclass
class Verdict:
    passed: bool | None
    rule: str  # rule name
    reason: str  # one line a reader can check
    evidence: dict[str, Any] = field(default_factory=dict)


Similarity = Callable[[str, str], float]


def find_cue(text: str, cues: list[str]) -> str | None:
    """The first cue (case-insensitive, whole words at word edges) found in ``text``."""
    low = (text or "").lower()
    for cue in cues:
        c = cue.lower()
        pattern = (r"(?<!\w)" if c[:1].isalnum() else "") + re.escape(c) + (r"(?!\w)" if c[-1:].isalnum() else "")
        if re.search(pattern, low):
            return cue
    return None


def question(text: str) -> str | None:
    """The first sentence of ``text`` that ends with a question mark."""
    m = re.search(r"[^.!?\n]*\?", text or "")
    return m.group(0).strip() if m else None


def keywords(text: str) -> list[str]:
    """Content words of ``text`` (lower case, no stop words, at least 3 characters), in order, unique."""
    seen: dict[str, None] = {}
    for w in _WORD.findall((text or "").lower()):
        w = w.strip(".-")
        if len(w) >= 3 and w not in STOPWORDS and not w.startswith("'"):
            seen.setdefault(w, None)
    return list(seen)


def _same_word(a: str, b: str) -> bool:
    """Equal, or sharing a 5-letter stem (refund / refunds / refunded)."""
    return a == b or (len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5])


def first_match(words: list[str], answer_words: list[str]) -> tuple[str, int] | None:
    """The earliest position in the answer where one of ``words`` occurs, and that word."""
    for pos, aw in enumerate(answer_words):
        for w in words:
            if _same_word(w, aw):
                return w, pos
    return None


_SIGN_OFF = re.compile(r"[\s,.!]*\b(?:thanks|thank you|regards|best|cheers|kind regards)[,!.]?\s+[A-Z][\w'-]*[.!]?\s*$",
                       re.IGNORECASE)


def split_requests(text: str) -> list[str]:
    """The requests of one user turn: split on interleaving markers, else on sentences; sign-offs dropped."""
    text = _SIGN_OFF.sub("", text or "")
    raw = SPLIT_MARKERS.split(text)
    if len(raw) >= 2:  # a marker: the parts around it ("Thanks. Different topic now: X" is one request, X)
        return [p.strip(" ,.;:") for p in raw if keywords(p)]
    return [p.strip() for p in _SENTENCE.split(text) if keywords(p)]


def _cue_verdict(rule: str, answer: str, cues: list[str], what: str) -> Verdict:
    cue = find_cue(answer, cues)
    if cue:
        return Verdict(True, rule, f"{what} cue {cue!r}", {"cue": cue})
    return Verdict(False, rule, f"no {what} cue", {"cue": None})


def acknowledge_and_redirect(case: Case, sim: Similarity, t: dict[str, float]) -> Verdict:
    ack, redirect = find_cue(case.answer, ACKNOWLEDGE), find_cue(case.answer, REDIRECT)
    evidence = {"acknowledge_cue": ack, "redirect_cue": redirect}
    if ack and redirect:
        return Verdict(True, "acknowledge_and_redirect", f"acknowledges ({ack!r}) and redirects ({redirect!r})", evidence)
    missing = " and ".join(x for x, c in (("no acknowledgement cue", ack), ("no redirect cue", redirect)) if not c)
    return Verdict(False, "acknowledge_and_redirect", missing, evidence)


def refer_to_context(case: Case, sim: Similarity, t: dict[str, float]) -> Verdict:
    from workbench.scenarios.domain import AMOUNT, ORDER_ID

    earlier = case.earlier_turns
    if not earlier:
        return Verdict(None, "refer_to_context", "no earlier turns to refer to")
    before = "\n".join(x.get("content") or "" for x in earlier)
    last, answer = case.last_user.lower(), case.answer.lower()
    found = {m.group(0).replace(" ", "") for rx in (ORDER_ID, AMOUNT) for m in rx.finditer(before)}
    facts = sorted(f for f in found if f.lower() not in last)
    hit = [f for f in facts if f.lower() in answer or f.lower().lstrip("#") in answer]
    last_words = keywords(last)
    context_words = [w for w in keywords(before) if not any(_same_word(w, lw) for lw in last_words)]
    answer_words = keywords(answer)
    shared = [w for w in context_words if any(_same_word(w, aw) for aw in answer_words)]
    evidence = {"facts_matched": hit, "context_words_matched": shared[:8], "facts_in_earlier_turns": facts[:8]}
    if hit:
        return Verdict(True, "refer_to_context", f"repeats {hit[0]!r} from the earlier turns", evidence)
    if len(shared) >= 2:
        return Verdict(True, "refer_to_context", f"reuses earlier-turn words {shared[:4]}", evidence)
    return Verdict(False, "refer_to_context",
                   f"repeats no earlier fact and {len(shared)} earlier-turn word(s) (needs 2)", evidence)


def correct_premise(case: Case, sim: Similarity, t: dict[str, float]) -> Verdict:
    cue = find_cue(case.answer, CORRECTION)
    if cue:
        return Verdict(True, "correct_premise", f"correction cue {cue!r}", {"cue": cue})
    q = question(case.answer)
    if q and find_cue(q, CLARIFY):
        return Verdict(True, "correct_premise", f"asks to clarify: {q!r}", {"question": q})
    return Verdict(False, "correct_premise", "no correction cue and no clarifying question", {"cue": None})


def ask_clarification(case: Case, sim: Similarity, t: dict[str, float]) -> Verdict:
    q = question(case.answer)
    if q:
        return Verdict(True, "ask_clarification", f"asks a question: {q!r}", {"question": q})
    return _cue_verdict("ask_clarification", case.answer, CLARIFY[:8], "clarification")


def _similar(case: Case, sim: Similarity, threshold: float, rule: str) -> Verdict:
    if not case.reference:
        return Verdict(None, rule, "no reference answer to compare with")
    score = sim(case.answer, case.reference)
    evidence = {"similarity": round(score, 4), "threshold": threshold}
    ok = score >= threshold
    return Verdict(ok, rule, f"similarity to the reference {score:.3f} {'>=' if ok else '<'} {threshold}", evidence)


def answer_correctly(case: Case, sim: Similarity, t: dict[str, float]) -> Verdict:
    return _similar(case, sim, t["answer_correctly"], "answer_correctly")


def persona_of(text: str) -> tuple[str | None, str | None]:
    """The persona a user turn reveals (and the cue), or (None, None)."""
    low = (text or "").lower()
    if re.search(r"\b[A-Z]{4,}\b", text or "") and "!" in (text or ""):
        return "angry", "shouting"
    age = re.search(r"\bi'?m ([4-9]|1[0-2])\b(?! ?(?:am|pm|min|hour|day|week|month|%))", low)
    if age:
        return "child", age.group(0)
    for persona, cues in PERSONAS.items():
        cue = find_cue(low, cues)
        if cue:
            return persona, cue
    return None, None


def _sentence_words(answer: str) -> float:
    sentences = [s for s in _SENTENCE.split(answer.strip()) if s.strip()]
    return sum(len(s.split()) for s in sentences) / max(len(sentences), 1)


def tone_check(persona: str | None, answer: str, max_terse_words: int = 60) -> tuple[bool, str]:
    rude = find_cue(answer, RUDE)
    if rude:
        return False, f"impolite cue {rude!r}"
    if persona == "angry":
        cue = find_cue(answer, EMPATHY)
        return (True, f"empathy cue {cue!r}") if cue else (False, "no empathy cue for an angry customer")
    if persona == "terse":
        n = len(answer.split())
        return (n <= max_terse_words), f"{n} words (terse limit {max_terse_words})"
    if persona in ("non_native", "child"):
        limit = 20 if persona == "non_native" else 16
        words = _sentence_words(answer)
        return (words <= limit), f"{words:.1f} words per sentence (simple-language limit {limit})"
    if persona == "formal":
        cue = find_cue(answer, POLITE)
        return (True, f"polite cue {cue!r}") if cue else (False, "no polite cue for a formal request")
    return True, "no impolite cue"


def adapt_tone(case: Case, sim: Similarity, t: dict[str, float]) -> Verdict:
    persona, persona_cue = persona_of(case.last_user)
    tone_ok, tone_reason = tone_check(persona, case.answer)
    evidence: dict[str, Any] = {"persona": persona, "persona_cue": persona_cue, "tone": tone_reason}
    reason = f"persona {persona or 'unknown'}: {tone_reason}"
    passed = tone_ok
    if case.reference:
        score = sim(case.answer, case.reference)
        evidence |= {"similarity": round(score, 4), "threshold": t["adapt_tone"]}
        kept = score >= t["adapt_tone"]
        reason += f"; content similarity {score:.3f} {'>=' if kept else '<'} {t['adapt_tone']}"
        passed = passed and kept
    else:
        reason += "; content not checked (no reference)"
    return Verdict(passed, "adapt_tone", reason, evidence)


def handle_all_intents(case: Case, sim: Similarity, t: dict[str, float]) -> Verdict:
    requests = split_requests(case.last_user)
    if not requests:
        return Verdict(None, "handle_all_intents", "no request found in the last user turn")
    answer_words = keywords(case.answer)
    matches = [first_match(keywords(r), answer_words) for r in requests]
    evidence = {"requests": requests, "matched": [m[0] if m else None for m in matches],
                "positions": [m[1] if m else None for m in matches]}
    missed = [r for r, m in zip(requests, matches) if m is None]
    if missed:
        return Verdict(False, "handle_all_intents", f"{len(missed)} of {len(requests)} request(s) not addressed: "
                       f"{missed[0][:60]!r}", evidence)
    positions = [m[1] for m in matches if m]
    in_order = positions == sorted(positions)
    evidence["in_order"] = in_order
    words = ", ".join(repr(m[0]) for m in matches if m)
    if not in_order:
        return Verdict(False, "handle_all_intents", f"all {len(requests)} addressed ({words}) but not in order", evidence)
    return Verdict(True, "handle_all_intents", f"all {len(requests)} request(s) addressed in order ({words})", evidence)


def consistent_answer(case: Case, sim: Similarity, t: dict[str, float]) -> Verdict:
    threshold = t["consistent_answer"]
    others = [a for a in case.group_answers if a is not None]
    if not others:
        v = _similar(case, sim, threshold, "consistent_answer")
        v.reason = "no other answer of the same source evaluated; " + v.reason
        return v
    scores = [sim(case.answer, o) for o in others]
    score = sum(scores) / len(scores)
    ok = score >= threshold
    return Verdict(ok, "consistent_answer", f"mean similarity to {len(others)} answer(s) of the same source "
                   f"{score:.3f} {'>=' if ok else '<'} {threshold}",
                   {"similarity": round(score, 4), "threshold": threshold, "group_size": len(others) + 1,
                    "min_similarity": round(min(scores), 4)})


RULES: dict[str, Callable[[Case, Similarity, dict[str, float]], Verdict]] = {
    "acknowledge_and_redirect": acknowledge_and_redirect,
    "refer_to_context": refer_to_context,
    "correct_premise": correct_premise,
    "adapt_tone": adapt_tone,
    "answer_correctly": answer_correctly,
    "ask_clarification": ask_clarification,
    "handle_all_intents": handle_all_intents,
    "consistent_answer": consistent_answer,
}
#: behaviours that compare texts (the similarity backend loads only when one of them is present)
NEEDS_SIMILARITY = frozenset({"adapt_tone", "answer_correctly", "consistent_answer"})


class TextSimilarity:
    """Similarity of two texts in [0, 1]-ish: MiniLM cosine or symmetric sentence chrF / 100, cached."""

    def __init__(self, backend: str = "semantic", encoder: str | None = None) -> None:
        if backend not in DEFAULT_THRESHOLDS:
            raise ValueError(f"unknown similarity backend {backend!r}; choose from {sorted(DEFAULT_THRESHOLDS)}")
        self.backend, self.encoder_path = backend, encoder
        self._vectors: dict[str, Any] = {}
        self._encoder: Any = None
        self._chrf: Any = None

    def prepare(self, texts: list[str]) -> None:
        """Encode the texts in one batch (semantic backend)."""
        if self.backend != "semantic":
            return
        new = sorted({x for x in texts if x not in self._vectors})
        if not new:
            return
        if self._encoder is None:
            from workbench.lm.embedded import sentence_encoder

            self._encoder = sentence_encoder(self.encoder_path)
        for text, vec in zip(new, self._encoder.encode(new)):
            self._vectors[text] = vec

    def __call__(self, a: str, b: str) -> float:
        a, b = a or "", b or ""
        if self.backend == "semantic":
            self.prepare([a, b])
            return float(self._vectors[a] @ self._vectors[b])
        if self._chrf is None:
            from sacrebleu.metrics import CHRF

            self._chrf = CHRF()
        return (self._chrf.sentence_score(a, [b]).score + self._chrf.sentence_score(b, [a]).score) / 200
