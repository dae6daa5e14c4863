"""Answers that already exist, scored like a model's: read by row id, never generated.

A model reference ``answers:<file>`` names a JSONL file with one object per
line, ``{"id": ..., "answer": ...}``. The harness takes these answers instead
of generating, so every metric and the same significance tests apply to
answers produced elsewhere (another tool, an API batch, a human). They answer
only the evaluated rows: the forgetting probe set and metrics that need the
model itself (perplexity, latency) do not apply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import WorkbenchError
from workbench.lm.generation import Generation

PREFIX = "answers:"


def is_saved(ref: str) -> bool:
    return ref.startswith(PREFIX)


@dataclass
class SavedAnswers:
    """The saved answers of one "model", aligned with the evaluated examples."""

    path: str
    prompts: list[Any]
    texts: list[str]

    def answers(self, prompts: Sequence[Any]) -> list[Generation]:
        if list(prompts) != self.prompts:
            raise WorkbenchError(f"saved answers {self.path} answer only the evaluated rows, not these prompts "
                                 "(the forgetting probe set?)",
                                 hint="turn the forgetting probe off (--no-forgetting, forgetting_probe = false)")
        return [Generation(text, None, 0) for text in self.texts]  # type: ignore[arg-type]  # no latency: not generated


def read_answers(path: Path) -> dict[str, str]:
    """``id -> answer`` from a JSONL file; a bad line is an error naming file and line."""
    if not path.is_file():
        raise WorkbenchError(f"answers file {path} not found", hint="give NAME=FILE with a JSONL file of id and answer")
    out: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise WorkbenchError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "id" not in record or not isinstance(record.get("answer"), str):
            raise WorkbenchError(f"{where}: each line needs \"id\" and a string \"answer\"",
                                 hint='e.g. {"id": "r1", "answer": "Your order shipped yesterday."}')
        key = str(record["id"])
        if key in out:
            raise WorkbenchError(f"{where}: id {key!r} appears twice")
        out[key] = record["answer"]
    return out


def saved_models(models: dict[str, str], examples: pl.DataFrame) -> dict[str, SavedAnswers]:
    """For each ``answers:`` reference of ``models`` (display name -> ref), its answers in example order."""
    out = {}
    prompts = [json.loads(p) for p in examples["prompt"]]
    for name, ref in models.items():
        if not is_saved(ref):
            continue
        path = Path(ref[len(PREFIX):])
        by_id = read_answers(path)
        missing = [i for i in examples["id"].to_list() if i not in by_id]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise WorkbenchError(f"answers of {name!r} ({path}) have no answer for {len(missing)} evaluated rows: "
                                 f"{shown}", hint="save one answer per evaluated row id (or evaluate fewer rows)")
        out[name] = SavedAnswers(str(path), prompts, [by_id[i] for i in examples["id"].to_list()])
    return out


def column_answers(table: pl.DataFrame, column: str, source: str) -> list[dict[str, str]]:
    """``[{"id", "answer"}]`` from a column of the loaded data (a field the reader kept in ``meta._extra``)."""
    from workbench import schema

    out = []
    for row in table.iter_rows(named=True):
        value = row[column] if column in table.columns else schema.meta_of(row).get("_extra", {}).get(column)
        if not isinstance(value, str):
            raise WorkbenchError(f"{source}: row {row['id']!r} has no text in column {column!r}",
                                 hint="every evaluated row needs its saved answer in that column")
        out.append({"id": row["id"], "answer": value})
    return out


def answer_files(specs: Sequence[str], data: Path, folder: Path) -> dict[str, str]:
    """``NAME=FILE`` or ``NAME=column:COLUMN`` (of ``data``) -> name -> absolute JSONL path.

    A column is written to ``folder/NAME.jsonl`` so the run reads every saved answer the same way.
    """
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, source = spec.partition("=")
        if not sep or not name.strip() or not source.strip():
            raise WorkbenchError(f"--answers {spec!r}: expected NAME=FILE or NAME=column:COLUMN",
                                 hint="e.g. --answers tuned=answers.jsonl (lines of id and answer)")
        name = name.strip()
        if name in out:
            raise WorkbenchError(f"--answers names {name!r} twice")
        if source.startswith("column:"):
            from workbench.io.loader import load_table

            rows = column_answers(load_table(data).table, source[len("column:"):], f"{data}")
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            out[name] = str(path)
        else:
            read_answers(Path(source))  # a bad file fails here, before any model loads
            out[name] = str(Path(source).resolve())
    return out
