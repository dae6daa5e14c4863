"""Picking the reader or writer for a file: by name, else by extension and content."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.components import Component
from workbench.errors import WorkbenchError
from workbench.io import source


@dataclass
class Sample:
    """What detection sees of a file: its suffix, first bytes and first parsed records."""

    path: Path
    suffix: str
    head: bytes
    #: the first complete JSON objects (JSONL lines or JSON array items), if the file is JSON
    records: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, path: Path) -> Sample:
        data = source.head(path)
        return cls(path, path.suffix.lower(), data, _first_records(path, data))


def _first_records(path: Path, data: bytes, limit: int = 20) -> list[Any]:
    if source.looks_binary(data) or source.first_char(path) not in ("{", "["):
        return []
    records = []
    for item in source.iter_json_items(path):
        if isinstance(item, source.Item):
            if item.obj is not source.UNPARSED:
                records.append(item.obj)
            if len(records) >= limit or item.line > 200:
                break
    return records


def _components(kind: str) -> dict[str, Any]:  # reader or writer classes
    from workbench.runtime.discovery import get_registry

    registry = get_registry()
    return {name: registry.get(kind, name) for name in registry.names(kind)}


def reader_for(path: Path, name: str | None, options: dict[str, Any] | None = None):
    """The reader named ``name``, or the one scoring highest on the file's sample."""
    readers = _components("reader")
    if name:
        return _build("reader", readers, name, options)
    sample = Sample.of(path)
    scored = sorted(((cls(options_for(cls, options)).detect(sample), n) for n, cls in readers.items()), reverse=True)
    if not scored or scored[0][0] <= 0:
        tried = ", ".join(sorted(readers)) or "none registered"
        raise WorkbenchError(f"could not detect the format of {path} (tried: {tried})",
                             hint="pass the format explicitly, e.g. --format openai-chat")
    return _build("reader", readers, scored[0][1], options)


def writer_for(path: Path, name: str | None, options: dict[str, Any] | None = None):
    """The writer named ``name``, or the one claiming the file's extension."""
    writers = _components("writer")
    if name:
        return _build("writer", writers, name, options)
    suffix = path.suffix.lower()
    claims = [n for n, cls in writers.items() if suffix in cls.extensions]
    if len(claims) != 1:
        what = f"several writers claim {suffix!r}: {', '.join(claims)}" if claims else f"no writer claims {suffix!r}"
        raise WorkbenchError(f"cannot choose an output format for {path}: {what}",
                             hint=f"pass the format explicitly (known: {', '.join(sorted(writers))})")
    return _build("writer", writers, claims[0], options)


def options_for(cls: type[Component], options: dict[str, Any] | None) -> dict[str, Any]:
    """The subset of ``options`` the component's options model knows (detection tries every reader)."""
    known = set(cls.Options.model_fields)
    return {k: v for k, v in (options or {}).items() if k in known}


def _build(kind: str, known: dict[str, Any], name: str, options: dict[str, Any] | None):
    if name not in known:
        raise WorkbenchError(f"unknown {kind} format {name!r} (known: {', '.join(sorted(known))})",
                             hint="`workbench plugins` lists the registered formats")
    return known[name](options or {})  # invalid options: a WorkbenchError naming each (Component.__init__)
