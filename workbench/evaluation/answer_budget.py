"""How many new tokens an answer may take when the user did not say.

A fixed cap cuts answers whose references are longer than the cap, and a cut
answer cannot carry the facts its reference ends with: on the demo data a cap
of 96 cut a quarter of the references, so the facts check judged unfinished
answers. When ``decode.max_new_tokens`` is not set, the evaluate step sizes the
cap from the evaluated references instead: the longest one in estimated tokens
plus a quarter, never below the old default. Answers still end at their own
end-of-turn token, so the larger cap costs time only for answers that ramble.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from workbench.io.validate import CHARS_PER_TOKEN

FLOOR = 128  #: never below the fixed default it replaces
CEILING = 1024  #: one runaway reference must not make every answer this long
MARGIN = 1.25  #: tokenizers differ from the characters-per-token estimate; a wording may be longer


def answer_budget(references: Iterable[str | None]) -> tuple[int, str]:
    """(max_new_tokens, why) for answers to these references: the longest in estimated tokens plus a quarter,
    rounded up to a multiple of 16, within [FLOOR, CEILING]."""
    longest = max((len(r) for r in references if r), default=0)
    estimated = math.ceil(longest / CHARS_PER_TOKEN)
    budget = min(CEILING, max(FLOOR, 16 * math.ceil(estimated * MARGIN / 16)))
    why = (f"auto: the longest reference is about {estimated} tokens ({longest} characters); "
           f"{budget} = that plus a quarter, within [{FLOOR}, {CEILING}]")
    return budget, why
