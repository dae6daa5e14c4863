"""Packaged resources: data files shipped inside the wheel and the offline NLTK data.

The probe set of the forgetting check (``probes.jsonl``), the bias lexicons
(``bias/*.toml``), the stopword list and ``nltk_data``, which provisions NLTK from them.
"""

from pathlib import Path

#: the folder holding the packaged data files
FOLDER = Path(__file__).resolve().parent
