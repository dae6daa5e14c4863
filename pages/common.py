"""Streamlit pieces every page shares: session defaults, errors, option forms, the run file panel.

Only drawing lives here; the logic is in :mod:`workbench.ui_support`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from workbench import store
from workbench.errors import WorkbenchError
from workbench.ui_support import jobs, keys, tasks
from workbench.ui_support.forms import form_fields, to_options
from workbench.ui_support.pipeline import Pipeline, execute, latest_output


def runs_dir() -> Path:
    if keys.RUNS_DIR not in st.session_state:
        st.session_state[keys.RUNS_DIR] = str(store.runs_root().resolve())
    return Path(st.session_state[keys.RUNS_DIR])


def pipeline() -> Pipeline:
    if keys.PIPELINE not in st.session_state:
        st.session_state[keys.PIPELINE] = Pipeline()
    return st.session_state[keys.PIPELINE]


def start_session() -> None:
    """Give this browser session an id in the URL (``?session=``) and, after a reload, put its state back."""
    from workbench.ui_support import session

    sid = st.query_params.get("session")
    if sid is None or st.session_state.get(keys.SESSION_ID) != sid:
        if sid is None:
            sid = st.query_params["session"] = session.new_id()
        try:
            restored = session.restore(runs_dir(), sid)
        except (WorkbenchError, OSError, ValueError) as exc:  # a malformed id or a damaged file: start afresh
            show_error(WorkbenchError(f"the saved session could not be restored: {exc}", hint="starting a new one"))
            sid = st.query_params["session"] = session.new_id()
            restored = {}
        for key, value in restored.items():
            st.session_state.setdefault(key, value)
        st.session_state[keys.SESSION_ID] = sid


def save_session() -> None:
    """Write this session's state under ``<runs>/.sessions/<id>/`` (only what changed)."""
    from workbench.ui_support import session

    sid = st.session_state.get(keys.SESSION_ID)
    if sid:
        session.save(runs_dir(), sid, st.session_state, st.session_state.setdefault(keys.SESSION_MEMO, {}))


def header() -> None:
    """One line on every page: the dataset and run being worked on; a warning when other hosts can connect."""
    from workbench.ui_support import exposure, overview

    address = st.get_option("server.address")
    if not exposure.is_loopback(address):
        st.warning(f"This app listens on {address or 'every network interface'}: other computers can reach it, read "
                   "files under the data roots and start training jobs. Restart it with `workbench ui` or "
                   "`--server.address 127.0.0.1` unless that is what you want.", icon=":material/public:")
    st.caption(overview.status_line(overview.current(st.session_state)))


def show_error(exc: BaseException) -> None:
    """A readable message (and the hint, when there is one), never a traceback."""
    hint = getattr(exc, "hint", None)
    st.error(f"{exc}" + (f"\n\nHint: {hint}" if hint else ""))


def host():
    """The plugin host, or a readable error that stops the page."""
    from workbench.plugins import get_host

    try:
        return get_host()
    except WorkbenchError as exc:
        show_error(exc)
        st.stop()


def require_table() -> Path:
    """The dataset the pages work on; stops with a pointer to the Data page when there is none."""
    path = st.session_state.get(keys.TABLE_PATH)
    if not path or not Path(path).exists() or not pipeline().stage("load"):
        st.info("Open a dataset on the Data page first (upload a file, pick one on disk or open a run).")
        st.stop()
    return Path(path)


def options_form(component: type, prefix: str, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Draw the component's generated options form; return validated options or None (error shown)."""
    values = {}
    for f in form_fields(component):
        key, label, initial = f"{prefix}{f.name}", f.label, f.initial(current)
        if f.widget == "checkbox":
            values[f.name] = st.checkbox(label, value=bool(initial), help=f.help, key=key)
        elif f.widget == "int":
            values[f.name] = st.number_input(label, value=int(initial or 0), step=1, help=f.help, key=key)
        elif f.widget == "float":
            values[f.name] = st.number_input(label, value=float(initial or 0.0), format="%g", help=f.help, key=key)
        elif f.widget == "select":
            index = f.choices.index(initial) if initial in f.choices else 0
            values[f.name] = st.selectbox(label, f.choices, index=index, help=f.help, key=key,
                                          format_func=lambda v: "(none)" if v is None else str(v))
        elif f.widget == "multiselect":
            values[f.name] = st.multiselect(label, f.choices, default=initial, help=f.help, key=key)
        elif f.widget in ("lines", "json"):
            hint = "one per line" if f.widget == "lines" else "JSON"
            values[f.name] = st.text_area(f"{label} ({hint})", value=initial, help=f.help, key=key, height=80)
        else:
            values[f.name] = st.text_input(label, value=initial, help=f.help, key=key)
    try:
        return to_options(component, values)
    except WorkbenchError as exc:
        show_error(exc)
        return None


def run_now(p: Pipeline, upto: str | None = None) -> Path | None:
    """Execute the pipeline (up to a stage) in this process, then browse its output."""
    target = p.upto(upto) if upto else p
    try:
        with st.spinner(f"Running {len(target.steps)} steps (finished ones are reused)…"):
            run_dir = execute(target, runs_dir())
    except WorkbenchError as exc:
        show_error(exc)
        return None
    st.session_state[keys.RUN_DIR] = str(run_dir)
    output = latest_output(run_dir)
    if output:
        st.session_state[keys.TABLE_PATH] = str(output)
    return run_dir


def runfile_panel(prefix: str) -> None:
    """The run file this session composes: view, download, save for `workbench run`."""
    p = pipeline()
    with st.expander("Run file (replay with `workbench run`)"):
        try:
            text = p.absolute().to_toml()
        except WorkbenchError as exc:
            show_error(exc)
            return
        st.code(text, language="toml")
        st.download_button("Download run file", text, file_name=f"{p.name}.toml", key=f"{prefix}_download_runfile")
        target = st.text_input("Save as", value=str(runs_dir() / f"{p.name}.toml"), key=f"{prefix}_runfile_path")
        if st.button("Save run file", key=f"{prefix}_save_runfile"):
            st.success(f"Saved {p.save(target)}")


def progress_panel(key: str, *, task: str | None = None, run_dir: str | Path | None = None,
                   label: str = "run") -> tasks.ProgressView | None:
    """Elapsed time, progress, ETA and a Cancel button for an in-process task (``task``, an id from
    :func:`workbench.ui_support.tasks.start`) or a background run (``run_dir``), read from their progress files.

    While the work runs the panel redraws itself every second; when it ends the whole page reruns once so it can
    pick up the result (``tasks.get(task).result``). Returns what it drew (None when there is nothing to follow).
    """
    def current() -> tasks.ProgressView | None:
        return tasks.view(task) if task else tasks.run_view(run_dir, label) if run_dir else None

    def draw(v: tasks.ProgressView) -> None:
        if v.fraction is not None:
            st.progress(v.fraction, text=v.text())
        else:
            st.caption(v.text())
        if v.running and st.button("Cancel", key=f"{key}_cancel", disabled=v.cancelling):
            if task:
                tasks.cancel(task)
            else:
                jobs.cancel(run_dir)
            st.rerun(scope="fragment")
        if v.error:
            show_error(WorkbenchError(f"{v.label} failed: {v.error}"))

    @st.fragment(run_every=1)
    def live() -> None:
        v = current()
        if v is None or not v.running:
            st.rerun()  # the page picks up the result
        draw(v)

    shown = current()
    if shown is not None:
        live() if shown.running else draw(shown)
    return shown
