"""Label metrics with scikit-learn: accuracy, precision/recall/F1, confusion matrix.

The predicted label comes from a ``predicted_label`` column when a classifier
filled it, otherwise it is parsed from the generated text: the label name
(``_``/``-`` read as spaces, case-insensitive, whole words) mentioned first.
"""

from __future__ import annotations

import re

import polars as pl

from workbench.components import Metric
from workbench.evaluation.result import MetricResult, skipped

NO_LABEL = "<none>"


def parse_label(text: str | None, labels: list[str]) -> str:
    """The label whose name appears first in ``text`` (``NO_LABEL`` if none does)."""
    text = (text or "").lower()
    best, best_pos = NO_LABEL, len(text) + 1
    for label in sorted(labels, key=len, reverse=True):
        words = re.split(r"[\s_\-]+", label.lower().strip())
        pattern = r"(?<!\w)" + r"[\s_\-]+".join(map(re.escape, words)) + r"(?!\w)"
        m = re.search(pattern, text)
        if m and m.start() < best_pos:
            best, best_pos = label, m.start()
    return best


def label_pairs(frame: pl.DataFrame) -> tuple[list[str], list[str], list[int]]:
    """(true labels, predicted labels, row positions) for the labelled rows."""
    labelled = [i for i, v in enumerate(frame["label"]) if v]
    truth = [frame["label"][i] for i in labelled]
    if "predicted_label" in frame.columns:
        predicted = [frame["predicted_label"][i] or NO_LABEL for i in labelled]
    else:
        names = sorted(set(truth))
        predicted = [parse_label(frame["prediction"][i], names) for i in labelled]
    return truth, predicted, labelled


def not_applicable(truth: list[str], predicted: list[str]) -> str | None:
    """Why label metrics say nothing here: no labels, or no answer names one."""
    if not truth:
        return "no row has a label"
    if all(p == NO_LABEL for p in predicted):
        return "no answer names a label (free-text answers); use a classifier or a prompt that asks for the label"
    return None


class Accuracy(Metric):
    name = "accuracy"
    description = "Share of labelled rows whose predicted label equals the label"
    requires = ("label", "prediction")
    #: compared with McNemar's test on the paired right/wrong outcomes
    paired_test = "mcnemar"

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        from sklearn.metrics import accuracy_score

        truth, predicted, rows = label_pairs(frame)
        if (reason := not_applicable(truth, predicted)):
            return skipped(self.name, reason)
        per_example: list[float | None] = [None] * frame.height
        for i, t, p in zip(rows, truth, predicted):
            per_example[i] = float(t == p)
        return MetricResult(self.name, float(accuracy_score(truth, predicted)), per_example,
                            details={"predicted": predicted})


class F1(Metric):
    name = "f1"
    description = "Macro F1 of predicted labels; details hold precision/recall/F1 macro, micro, per class and the confusion matrix"
    requires = ("label", "prediction")

    def compute(self, frame: pl.DataFrame) -> MetricResult:
        from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

        truth, predicted, _ = label_pairs(frame)
        if (reason := not_applicable(truth, predicted)):
            return skipped(self.name, reason)
        classes = sorted(set(truth))
        details: dict = {"classes": classes}
        for average in ("macro", "micro"):
            p, r, f, _ = precision_recall_fscore_support(truth, predicted, labels=classes, average=average,
                                                         zero_division=0)
            details[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
        p, r, f, support = precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
        details["per_class"] = {c: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]),
                                    "support": int(support[k])} for k, c in enumerate(classes)}
        matrix_labels = classes + ([NO_LABEL] if NO_LABEL in predicted else [])
        details["confusion"] = {"labels": matrix_labels,
                                "matrix": confusion_matrix(truth, predicted, labels=matrix_labels).tolist()}
        return MetricResult(self.name, details["macro"]["f1"], None, aggregate="corpus", details=details)


METRICS = (Accuracy, F1)
