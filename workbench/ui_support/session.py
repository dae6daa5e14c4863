"""A browser session that survives reloads: its state as files under ``<runs>/.sessions/<id>/``.

The app keeps a session id in the page URL (``?session=<id>``); after a reload
Streamlit starts a fresh session state, and :func:`restore` puts back what
:func:`save` wrote: the pipeline, the dataset and run being browsed, the
cleaners chosen, and the Augment page's candidates, preview and review
decisions (with the widget values that show them). Plain values go to
``state.json``; tables to parquet beside it, rewritten only when they change.
Secrets never enter it: the API key lives in a widget key that is not saved.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import WorkbenchError
from workbench.runtime import store
from workbench.ui_support import keys
from workbench.ui_support.data import Opened
from workbench.ui_support.pipeline import Pipeline
from workbench.ui_support.review import Tried, prompt_reference

#: plain session-state values saved as they are (JSON)
PLAIN = (keys.TABLE_PATH, keys.RUN_DIR, keys.JOB_RUN_DIR, keys.CLEAN_CHOICE, keys.DECISIONS, keys.COMPARE)
#: session-state tables saved as parquet
TABLES = (keys.CANDIDATES, keys.REVIEW_LEDGER)
#: the Augment page's widgets that show a decision (see :func:`decision_widgets`)
DECISION_WIDGET, PROMPT_WIDGET, REFERENCE_WIDGET = "aug_decision_{}", "aug_prompt_{}", "aug_reference_{}"
_ID = re.compile(r"^[0-9a-f]{32}$")


def new_id() -> str:
    return uuid.uuid4().hex


def folder(runs_dir: str | Path, session_id: str) -> Path:
    """``<runs>/.sessions/<id>``; an id that is not one :func:`new_id` makes is refused (it names a folder)."""
    if not _ID.match(session_id or ""):
        raise WorkbenchError(f"session id {session_id!r} is malformed", hint="open the app without ?session=")
    return Path(runs_dir) / ".sessions" / session_id


def _plain(state: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: state[k] for k in PLAIN if state.get(k) is not None}
    p = state.get(keys.PIPELINE)
    if p is not None:
        out[keys.PIPELINE] = {"name": p.name, "seed": p.seed, "description": p.description, "steps": p.steps,
                              "base_dir": str(p.base_dir)}
    opened = state.get(keys.VALIDATION)
    if opened is not None:
        out[keys.VALIDATION] = {"source": str(opened.source), "table_path": str(opened.table_path),
                                "report": opened.report}
    preview = state.get(keys.PREVIEW)
    if preview:
        out[keys.PREVIEW] = [{"family": t.family, "component": t.component, "stats": t.stats} for t in preview]
    return out


def save(runs_dir: str | Path, session_id: str, state: Mapping[str, Any], memo: MutableMapping[str, Any]) -> None:
    """Write what changed since the last save (``memo`` remembers it; keep one per browser session)."""
    where = folder(runs_dir, session_id)
    if memo.get("session") != session_id:  # what was written elsewhere is not written here
        memo.clear()
        memo["session"] = session_id
    text = json.dumps(_plain(state), ensure_ascii=False, default=str, sort_keys=True)
    frames = {k: state.get(k) for k in TABLES}
    for i, t in enumerate(state.get(keys.PREVIEW) or []):
        frames |= {f"preview-{i}-sample": t.sample, f"preview-{i}-table": t.table, f"preview-{i}-ledger": t.ledger}
    for name, frame in frames.items():
        if frame is not None and memo.get(name) is not frame:
            where.mkdir(parents=True, exist_ok=True)
            store.write_parquet(where / f"{name}.parquet", frame)
            memo[name] = frame
    if memo.get("json") != text:
        where.mkdir(parents=True, exist_ok=True)
        store.write_text(where / "state.json", text)
        memo["json"] = text


def restore(runs_dir: str | Path, session_id: str) -> dict[str, Any]:
    """The session-state values a saved session had ({} when there is none); tables whose file is gone are left out."""
    where = folder(runs_dir, session_id)
    if not (where / "state.json").exists():
        return {}
    saved = store.read_json(where / "state.json")
    out = {k: saved[k] for k in PLAIN if k in saved}
    if keys.COMPARE in out:
        out[keys.COMPARE] = tuple(out[keys.COMPARE])
    if keys.PIPELINE in saved:
        p = saved[keys.PIPELINE]
        out[keys.PIPELINE] = Pipeline(p["name"], p["seed"], p["description"], p["steps"], Path(p["base_dir"]))
    if keys.VALIDATION in saved:
        v = saved[keys.VALIDATION]
        out[keys.VALIDATION] = Opened(Path(v["source"]), Path(v["table_path"]), v["report"])
    for name in TABLES:
        if (where / f"{name}.parquet").exists():
            out[name] = pl.read_parquet(where / f"{name}.parquet")
    tried = []
    for i, meta in enumerate(saved.get(keys.PREVIEW) or []):
        parts = [where / f"preview-{i}-{part}.parquet" for part in ("sample", "table", "ledger")]
        if all(part.exists() for part in parts):
            sample, table, ledger = (pl.read_parquet(part) for part in parts)
            tried.append(Tried(meta["family"], meta["component"], sample, table, ledger, meta["stats"]))
    if tried:
        out[keys.PREVIEW] = tried
    return out | decision_widgets(out.get(keys.DECISIONS) or {}, out.get(keys.CANDIDATES))


def decision_widgets(decisions: Mapping[str, Any], candidates: pl.DataFrame | None) -> dict[str, Any]:
    """The Augment page's widget values that show ``decisions`` (keep / reject, and an edit's texts).

    Without them the page's radios would start at *undecided* after a reload and clear the decisions.
    """
    messages = dict(zip(candidates["id"].to_list(), candidates["messages"].to_list())) if candidates is not None else {}
    out: dict[str, Any] = {}
    for row_id, decision in decisions.items():
        edit = isinstance(decision, Mapping)
        out[DECISION_WIDGET.format(row_id)] = "accept" if edit else decision
        if edit:
            prompt, reference = prompt_reference(messages.get(row_id))
            out[PROMPT_WIDGET.format(row_id)] = decision.get("prompt", prompt)
            out[REFERENCE_WIDGET.format(row_id)] = decision.get("reference", reference)
    return out
