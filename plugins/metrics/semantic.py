"""Semantic similarity of answer and reference with the embedded MiniLM encoder."""

from __future__ import annotations

import polars as pl
from pydantic import Field

from workbench.components import Metric, Options
from workbench.evaluation.result import MetricResult, mean


class SemanticOptions(Options):
    encoder: str | None = Field(default=None, description="Sentence encoder folder (default: embedded all-MiniLM-L6-v2)")


class SemanticSimilarity(Metric):
    name = "semantic_similarity"
    description = "Cosine similarity of answer and reference embeddings (MiniLM, mean pooling)"
    requires = ("prediction", "reference")
    Options = SemanticOptions

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        from workbench.lm.embedded import sentence_encoder

        encoder = sentence_encoder(self.options.encoder)
        predictions = [p or "" for p in frame["prediction"]]
        references = [r or "" for r in frame["reference"]]
        a, b = encoder.encode(predictions), encoder.encode(references)
        scores = [float(x) for x in (a * b).sum(axis=1)]
        return MetricResult(self.name, mean(scores), scores, signature=f"encoder:{self.options.encoder or 'minilm'}")


METRICS = (SemanticSimilarity,)
