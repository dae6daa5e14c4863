"""Benchmarks behind ``workbench bench NAME``: one module each.

A module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> dict``; the command prints the dict as JSON. Each benchmark
measures Workbench against its named baseline in the same run and reports the
ratio, since absolute times wander between machines. Benchmarks of the
built-in plugins' internals live beside the plugins
(``workbench.plugins.benchmarks``); the helpers every benchmark shares are in
``workbench.runtime.machine``.
"""
