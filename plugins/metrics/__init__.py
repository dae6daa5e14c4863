"""Built-in metric plugins: label, text, semantic, perplexity, behaviour, facts, off-topic, judge.

Every metric extends :class:`workbench.components.Metric` and returns a
:class:`workbench.evaluation.result.MetricResult`; heavy libraries load
inside ``compute``.
"""

from __future__ import annotations

from workbench.hookspecs import hookimpl

from . import behavior, facts, judge, labels, off_topic, perplexity, sacrebleu_metrics, semantic, text

ALL_METRICS = (*labels.METRICS, *sacrebleu_metrics.METRICS, *text.METRICS, *semantic.METRICS,
               *perplexity.METRICS, *behavior.METRICS, *facts.METRICS, *off_topic.METRICS, *judge.METRICS)


@hookimpl
def register_metrics(register):
    for metric in ALL_METRICS:
        register(metric)
