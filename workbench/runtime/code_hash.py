"""A hash of a component's source, for plugins whose code can change under the same version.

A plugin in a ``--plugins-dir`` folder or installed with ``pip install -e`` is
edited in place; its ``version`` rarely moves with each edit. The engine adds
this hash to such a component's step key, so an edited component re-runs
instead of its stale output being reused.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json

from workbench import components


def is_editable(distribution: str) -> bool:
    """Whether ``distribution`` was installed in editable mode (``pip install -e``)."""
    try:
        direct_url = importlib.metadata.distribution(distribution).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return False
    if not direct_url:
        return False
    return bool(json.loads(direct_url).get("dir_info", {}).get("editable"))


def source_hash(cls: type) -> str:
    """Hash of the files defining ``cls`` and its base classes (the core's own bases excluded)."""
    digest = hashlib.sha256()
    files = []
    for klass in cls.__mro__:
        if klass.__module__ in (components.__name__, "builtins"):
            continue
        try:
            path = inspect.getsourcefile(klass)
        except TypeError:  # defined in C or interactively
            continue
        if path and path not in files:
            files.append(path)
    for path in files:
        with open(path, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:16]
