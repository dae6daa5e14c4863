"""Simple text metrics: ROUGE-L, exact match, answer length, latency."""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field

from workbench.components import Metric, Options
from workbench.evaluation.result import MetricResult, mean

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str | None, lowercase: bool = True) -> list[str]:
    """Word tokens (letters/digits runs), the unit of ROUGE-L and exact match."""
    text = text or ""
    return _TOKEN.findall(text.lower() if lowercase else text)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, O(len a * len b))."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str | None, reference: str | None) -> float:
    """ROUGE-L F1 (beta = 1) between two texts, in [0, 1]."""
    p, r = tokens(prediction), tokens(reference)
    lcs = lcs_length(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


class RougeL(Metric):
    name = "rouge_l"
    description = "ROUGE-L F1: longest common word subsequence with the reference (0-1)"
    requires = ("prediction", "reference")

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        scores = [rouge_l(p, r) for p, r in zip(frame["prediction"], frame["reference"])]
        return MetricResult(self.name, mean(scores), scores)


class ExactMatchOptions(Options):
    normalise: bool = Field(default=True, description="Ignore case, punctuation and spacing")


class ExactMatch(Metric):
    name = "exact_match"
    description = "Share of answers identical to the reference"
    requires = ("prediction", "reference")
    Options = ExactMatchOptions

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        if self.options.normalise:
            same = [tokens(p) == tokens(r) for p, r in zip(frame["prediction"], frame["reference"])]
        else:
            same = [(p or "").strip() == (r or "").strip() for p, r in zip(frame["prediction"], frame["reference"])]
        scores = [float(s) for s in same]
        return MetricResult(self.name, mean(scores), scores)


class AnswerLength(Metric):
    name = "answer_length"
    description = "Words per answer (with the reference's mean for scale); neither higher nor lower is better"
    requires = ("prediction", "reference")

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        lengths = [float(len((p or "").split())) for p in frame["prediction"]]
        ref = mean([float(len((r or "").split())) for r in frame["reference"]])
        return MetricResult(self.name, mean(lengths), lengths, higher_is_better=None,
                            details={"reference_mean_words": ref})


class Latency(Metric):
    name = "latency"
    description = "Seconds per answer (batched local generation: the batch time shared by its prompts)"
    requires = ("latency_s",)

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        values = [None if v is None else float(v) for v in frame["latency_s"]]
        return MetricResult(self.name, mean(values), values, higher_is_better=False)


METRICS = (RougeL, ExactMatch, AnswerLength, Latency)
