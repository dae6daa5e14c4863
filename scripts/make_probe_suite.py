#!/usr/bin/env python3
"""Write sample_data/counterfactual_suite.jsonl: counterfactual probes of the held-out sample prompts.

The suite is what the ``scenario-counterfactual`` generator writes for
``sample_data/heldout.jsonl`` with the options below (seed 0), so running::

    .venv/bin/python scripts/make_probe_suite.py

rewrites it byte for byte (``tests/test_bias_counterfactual.py`` checks it).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = {"max_sources": 6, "seed": 0, "origins": ["anglo", "hispanic", "african_american", "south_asian"]}


def build(heldout: Path) -> str:
    """The suite file's text for the held-out file ``heldout``."""
    sys.path.insert(0, str(ROOT))
    from workbench.io.loader import load_table
    from workbench.plugins.scenarios.counterfactual import CounterfactualProbes
    from workbench.scenarios.rows import write_suite

    rows, _, _ = CounterfactualProbes(OPTIONS).generate(load_table(heldout).table, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suite.jsonl"
        write_suite(rows, path)
        return path.read_text(encoding="utf-8")


if __name__ == "__main__":
    target = ROOT / "sample_data" / "counterfactual_suite.jsonl"
    target.write_text(build(ROOT / "sample_data" / "heldout.jsonl"), encoding="utf-8")
    print(f"wrote {target}")
