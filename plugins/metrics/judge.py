"""LLM-as-judge: a model compares two answers against a rubric, in both orders.

Each pair is judged as (A = base, B = other) and again swapped; a verdict
that flips with the order is position bias, reported as the disagreement
rate. Per example the score is the other model's preference: 1 win, 0.5 tie,
0 loss, averaged over the orders that gave a readable verdict.
"""

from __future__ import annotations

import json
import re

import polars as pl
from pydantic import Field

from workbench.components import Metric, Options
from workbench.evaluation.result import MetricResult, mean
from workbench.lm.generation import DecodeSettings

DEFAULT_RUBRIC = ("You are a strict evaluator of customer-support answers. Prefer the answer that is correct, "
                  "helpful, polite and concise, and that follows the user's instructions.")


class JudgeOptions(Options):
    judge_model: str = Field(default="smollm2", description="Judge model: smollm2, a local folder or openai:<model>")
    rubric: str = Field(default=DEFAULT_RUBRIC, description="What makes an answer better (the judge's system prompt)")
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for an openai: judge")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="Environment variable holding the judge's API key")


def judge_prompt(rubric: str, question: str, reference: str | None, first: str, second: str) -> list[dict]:
    user = (f"Question:\n{question}\n\n" + (f"Reference answer:\n{reference}\n\n" if reference else "")
            + f"Answer A:\n{first}\n\nAnswer B:\n{second}\n\n"
            "Which answer is better? Reply with exactly one word: A, B or tie.")
    return [{"role": "system", "content": rubric}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> str | None:
    """``"A"``, ``"B"``, ``"tie"`` or None when the judge's reply is unreadable."""
    m = re.search(r"\b(A|B|tie)\b", text, flags=re.IGNORECASE)
    if not m:
        return None
    word = m.group(1)
    return "tie" if word.lower() == "tie" else word.upper()


def _preference(verdict: str | None, b_is_first: bool) -> float | None:
    """Preference for system B given a verdict about the shown order."""
    if verdict is None:
        return None
    if verdict == "tie":
        return 0.5
    shown_first_won = verdict == "A"
    return float(shown_first_won == b_is_first)


def _question(prompt_json: str) -> str:
    turns = json.loads(prompt_json)
    return "\n".join(f"{t['role']}: {t['content']}" for t in turns if t["role"] != "system")


class Judge(Metric):
    name = "judge"
    description = "Pairwise LLM judge with a rubric, both orders, position-bias disagreement reported"
    requires = ("prompt", "prediction_a", "prediction_b")
    Options = JudgeOptions
    #: preference for B from a verdict about the shown order (the core reads verdicts through the registry)
    preference = staticmethod(_preference)

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        from workbench.lm.generation import chat_model

        o = self.options
        model = chat_model(o.judge_model, base_url=o.base_url, api_key_env=o.api_key_env)
        questions = [_question(p) for p in frame["prompt"]]
        refs = frame["reference"].to_list() if "reference" in frame.columns else [None] * frame.height
        a, b = frame["prediction_a"].to_list(), frame["prediction_b"].to_list()
        prompts = [judge_prompt(o.rubric, q, r, x, y) for q, r, x, y in zip(questions, refs, a, b)]
        prompts += [judge_prompt(o.rubric, q, r, y, x) for q, r, x, y in zip(questions, refs, a, b)]
        replies = model.chat(prompts, DecodeSettings(max_new_tokens=8))
        n = frame.height
        per_example, verdicts, disagree, both_read = [], [], 0, 0
        for i in range(n):
            ab, ba = parse_verdict(replies[i].text), parse_verdict(replies[n + i].text)
            pref_ab, pref_ba = _preference(ab, b_is_first=False), _preference(ba, b_is_first=True)
            per_example.append(mean([pref_ab, pref_ba]))
            if pref_ab is not None and pref_ba is not None:
                both_read += 1
                disagree += pref_ab != pref_ba
            verdicts.append({"ab": ab, "ba": ba, "ab_reply": replies[i].text, "ba_reply": replies[n + i].text})
        score = mean(per_example)
        return MetricResult(self.name, score, per_example, signature=f"judge:{model.name}",
                            skipped=None if score is not None else "the judge gave no readable verdict", details={
                                "position_disagreement": disagree / both_read if both_read else None,
                                "pairs_with_both_verdicts": both_read, "verdicts": verdicts, "rubric": o.rubric})


METRICS = (Judge,)
