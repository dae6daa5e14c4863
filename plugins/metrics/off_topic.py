"""Off-topic answers: the answer resembles the training answers of another intent.

A fluent answer to a different question (the password question answered with
the card-dispute policy) can still score well on similarity. The intent of a
text is the intent of its nearest training answer by MiniLM cosine; an answer
is off-topic when its intent is neither the reference's row ``label`` nor the
intent of the reference's own nearest training answer (so a closing "You're
welcome!", found under every label, is not off-topic). Without labels in the
training rows, each training answer's intent is its cluster of near-identical
answers (greedy, at ``cluster_threshold``), so house-style data without labels
is still checked.

The metric needs the training rows: the evaluate step calls :meth:`OffTopic.fit`
with them (see ``Metric.fit`` in docs/evaluation.md); without them it is
skipped with the reason.
"""

from __future__ import annotations

from typing import Any, Protocol

import polars as pl
from pydantic import Field

from workbench.components import Metric, Options
from workbench.evaluation.result import MetricResult, mean, skipped

NO_TRAIN_ROWS = ("no training rows: off_topic compares answers with the train split's answers "
                 "(`workbench evaluate` on a data file has none; run the evaluate step after a split)")


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> Any:
        """Unit-length embeddings, one row per text (numpy array)."""


class OffTopicOptions(Options):
    encoder: str | None = Field(default=None, description="Sentence encoder folder (default: embedded all-MiniLM-L6-v2)")
    cluster_threshold: float = Field(default=0.9, gt=0, le=1,
                                     description="Cosine at which unlabelled training answers count as one intent")


def greedy_clusters(vectors: Any, threshold: float) -> list[int]:
    """Cluster index per row: each row joins the first cluster whose first member is at least ``threshold`` close."""
    leaders: list[int] = []
    out = []
    for i in range(len(vectors)):
        sims = [float(vectors[j] @ vectors[i]) for j in leaders]
        best = max(range(len(leaders)), key=lambda k: sims[k], default=None)
        if best is not None and sims[best] >= threshold:
            out.append(best)
        else:
            leaders.append(i)
            out.append(len(leaders) - 1)
    return out


class OffTopic(Metric):
    name = "off_topic"
    description = "Answers closest to training answers of another intent than the reference's (MiniLM, label or cluster)"
    requires = ("prediction", "reference")
    Options = OffTopicOptions
    paired_test = "mcnemar"

    def __init__(self, options: Any = None, encoder: Encoder | None = None) -> None:
        super().__init__(options)
        self._encoder = encoder
        self._train: dict[str, Any] | None = None
        self._reference_cache: dict[tuple[str, ...], list[str | None]] = {}

    def encoder(self) -> Encoder:
        if self._encoder is None:
            from workbench.lm.embedded import sentence_encoder

            self._encoder = sentence_encoder(self.options.encoder)
        return self._encoder

    def encode(self, texts: list[str]) -> Any:
        """Embeddings of ``texts``, each distinct text encoded once (house-style answers repeat)."""
        unique = list(dict.fromkeys(texts))
        vectors = self.encoder().encode(unique)
        where = {t: i for i, t in enumerate(unique)}
        return vectors[[where[t] for t in texts]]

    def fit(self, train: pl.DataFrame) -> None:
        """Learn the intents from the training examples (``reference`` = answer, optional ``label``)."""
        rows = [(r, l) for r, l in zip(train["reference"], train["label"] if "label" in train.columns
                                       else [None] * train.height) if r]
        if not rows:
            self._train = None
            return
        labelled = [(r, l) for r, l in rows if l]
        texts = [r for r, _ in (labelled or rows)]
        vectors = self.encode(texts)
        if labelled:
            intents, source = [str(l) for _, l in labelled], "label"
        else:
            clusters = greedy_clusters(vectors, self.options.cluster_threshold)
            first = {c: texts[i] for i, c in reversed(list(enumerate(clusters)))}
            intents = [f"cluster {c + 1}: {_snippet(first[c])}" for c in clusters]
            source = "clusters"
        self._train = {"vectors": vectors, "intents": intents, "source": source, "rows": len(texts)}
        self._reference_cache = {}

    def nearest(self, texts: list[str]) -> tuple[list[str | None], list[float | None]]:
        """Intent of each text's nearest training answer and the cosine (None for empty texts)."""
        train = self._train
        assert train is not None
        present = [i for i, t in enumerate(texts) if t and t.strip()]
        intents: list[str | None] = [None] * len(texts)
        sims: list[float | None] = [None] * len(texts)
        if present:
            sim = self.encode([texts[i] for i in present]) @ train["vectors"].T
            for row, i in enumerate(present):
                j = int(sim[row].argmax())
                intents[i], sims[i] = train["intents"][j], round(float(sim[row, j]), 4)
        return intents, sims

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        if self._train is None:
            return skipped(self.name, NO_TRAIN_ROWS, higher_is_better=False)
        references = [r or "" for r in frame["reference"]]
        labels = (frame["label"].to_list() if "label" in frame.columns and self._train["source"] == "label"
                  else [None] * frame.height)
        key = tuple(references)
        if key not in self._reference_cache:  # every model is scored on the same references
            self._reference_cache = {key: self.nearest(references)[0]}
        nearest_ref = self._reference_cache[key]
        reference_intents = [str(l) if l else n for l, n in zip(labels, nearest_ref)]
        answer_intents, similarity = self.nearest([p or "" for p in frame["prediction"]])
        per_example: list[float | None] = []
        for ref, label, near, ans_intent in zip(references, labels, nearest_ref, answer_intents):
            # on topic: the reference's label, or the intent of the reference's own nearest training answer
            # (a closing "You're welcome!" appears under every label); an empty answer is off-topic
            on_topic = ans_intent is not None and ans_intent in {str(label) if label else None, near}
            per_example.append(None if not ref.strip() else float(not on_topic))
        off = sum(1 for v in per_example if v == 1.0)
        return MetricResult(self.name, mean(per_example), per_example, higher_is_better=False,
                            signature=f"off_topic:v{self.version}|intents:{self._train['source']}"
                                      f"|encoder:{self.options.encoder or 'minilm'}|threshold:{self.options.cluster_threshold}",
                            details={"off_topic": off, "answer_intents": answer_intents,
                                     "reference_intents": reference_intents, "similarity": similarity,
                                     "intent_source": self._train["source"], "train_rows": self._train["rows"]})


def _snippet(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


METRICS = (OffTopic,)
