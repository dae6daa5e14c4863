"""Built-in augmenters: typos, WordNet synonyms, EDA, sentence structure, paraphrase, back-translation.

One module per family; :mod:`.base` holds what they share (row and role
selection, lineage, meaning and protected-token filters, the ledger).
"""

from __future__ import annotations

from workbench.hookspecs import hookimpl

from .backtranslate import BackTranslate
from .eda import Eda
from .paraphrase import Paraphrase
from .structure import Structure
from .synonyms import Synonyms
from .typos import Typos


@hookimpl
def register_augmenters(register):
    register(Typos)
    register(Synonyms)
    register(Eda)
    register(Structure)
    register(Paraphrase)
    register(BackTranslate)
