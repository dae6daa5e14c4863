"""Benchmarks behind ``workbench bench NAME``: one module each.

A module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> dict``; the command prints the dict as JSON. Each benchmark
measures Workbench against its named baseline in the same run and reports the
ratio, since absolute times wander between machines.
"""


def load_average() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages, rounded: reported before and after a benchmark's timings."""
    import os

    return [round(x, 2) for x in os.getloadavg()]
