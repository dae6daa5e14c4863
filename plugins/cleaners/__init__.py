"""Built-in cleaners: text repair, terminology, PII, deduplication, quality, structure, data audit.

One module per family; :mod:`.chain` holds the default chain and runs a chain
in memory or batch-wise over a file larger than memory.
"""

from __future__ import annotations

from workbench.hookspecs import hookimpl

from .audit import DataAudit
from .dedup import ExactDedup, NearDedup
from .pii import RedactPii
from .quality import QualityFilter
from .semantic import SemanticDedup
from .structure import RepairStructure
from .terminology import Terminology
from .text import StripMarkup, UnicodeNormalize, Whitespace

CLEANERS = (RepairStructure, UnicodeNormalize, StripMarkup, Whitespace, RedactPii, Terminology,
            QualityFilter, ExactDedup, NearDedup, SemanticDedup, DataAudit)


@hookimpl
def register_cleaners(register):
    for cleaner in CLEANERS:
        register(cleaner)
