"""BLEU, chrF and TER with sacrebleu, corpus level, signature recorded.

Per-example scores are sacrebleu's sentence-level scores (BLEU with
effective order), used to pair examples for win/tie/loss; the corpus score
is sacrebleu's corpus score, which is not the mean of sentence scores.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import Field

from workbench.components import Metric, Options
from workbench.evaluation.result import MetricResult


class SacrebleuOptions(Options):
    lowercase: bool = Field(default=False, description="Compare case-insensitively")


class SacrebleuMetric(Metric):
    """Shared shape of the sacrebleu metrics; subclasses name the sacrebleu class."""

    requires = ("prediction", "reference")
    Options = SacrebleuOptions
    sacrebleu_class: str = ""
    higher_is_better = True

    def sacrebleu_metric(self, *, sentence: bool = False) -> Any:
        """The configured sacrebleu metric object (also used by the significance tests)."""
        import sacrebleu

        cls = getattr(sacrebleu.metrics, self.sacrebleu_class)
        kwargs: dict[str, Any] = {"lowercase": self.options.lowercase}
        if self.sacrebleu_class == "TER":
            kwargs = {"case_sensitive": not self.options.lowercase}
        if sentence and self.sacrebleu_class == "BLEU":
            kwargs["effective_order"] = True
        return cls(**kwargs)

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        hyps = [h or "" for h in frame["prediction"].to_list()]
        refs = [r or "" for r in frame["reference"].to_list()]
        corpus_metric = self.sacrebleu_metric()
        corpus = corpus_metric.corpus_score(hyps, [refs])
        sentence_metric = self.sacrebleu_metric(sentence=True)
        per_example = [sentence_metric.sentence_score(h, [r]).score for h, r in zip(hyps, refs)]
        return MetricResult(self.name, float(corpus.score), per_example, aggregate="corpus",
                            higher_is_better=self.higher_is_better, signature=str(corpus_metric.get_signature()),
                            details={"formatted": corpus.format()})


class Bleu(SacrebleuMetric):
    name = "bleu"
    description = "Corpus BLEU (sacrebleu) of the answer against the reference answer"
    sacrebleu_class = "BLEU"


class Chrf(SacrebleuMetric):
    name = "chrf"
    description = "Corpus chrF (sacrebleu) of the answer against the reference answer"
    sacrebleu_class = "CHRF"


class Ter(SacrebleuMetric):
    name = "ter"
    description = "Corpus TER (sacrebleu): edits per reference word, lower is better"
    sacrebleu_class = "TER"
    higher_is_better = False


METRICS = (Bleu, Chrf, Ter)
