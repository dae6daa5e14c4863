"""Evaluation: generate answers, score them with metric plugins, compare models.

The pieces are small modules: ``examples`` turns the canonical table into
prompt/reference rows, ``cache`` keeps generations for every run of a runs folder,
``harness`` runs models and metrics, ``significance`` and ``compare`` say
whether a difference is real, ``slices``/``diff``/``forgetting``/``votes``
feed the report.
"""
