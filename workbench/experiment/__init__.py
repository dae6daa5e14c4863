"""Experiments: ablations, data-size learning curves and seed repeats of one pipeline, compared in one report.

``spec`` reads the experiment file and turns each variant into a run file,
``executor`` runs them (sharing finished steps between variants), ``compare``
builds the one comparison and ``report`` writes it (docs/experiments.md).
"""
