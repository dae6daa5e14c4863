"""The evaluation report: one data model (``build``) rendered as HTML, Markdown and JSON.

The HTML is self-contained (inline CSS and SVG, no script, no network) and
every piece of dataset or model text goes through ``html.escape``.
"""
