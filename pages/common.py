"""Streamlit pieces every page shares: session defaults, errors, option forms, the run file panel.

Only drawing lives here; the logic is in :mod:`workbench.ui_support`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from workbench.errors import WorkbenchError
from workbench.runtime import store
from workbench.ui_support import jobs, keys, tasks
from workbench.ui_support.forms import GROUPS, FormField, OptionsError, form_fields, to_options
from workbench.ui_support.pipeline import Pipeline, execute_task, latest_output


def runs_dir() -> Path:
    if keys.RUNS_DIR not in st.session_state:
        st.session_state[keys.RUNS_DIR] = str(store.runs_root().resolve())
    return Path(st.session_state[keys.RUNS_DIR])


def pipeline() -> Pipeline:
    if keys.PIPELINE not in st.session_state:
        st.session_state[keys.PIPELINE] = Pipeline()
    return st.session_state[keys.PIPELINE]


def require_app() -> None:
    """Send a page opened outside app.py's navigation to the app first.

    A fresh server whose first visitor opens a page's own URL (``/data``) runs that page through Streamlit's
    older ``pages/`` folder mode, skipping app.py: no session, no header, no exposure warning, and every
    module in ``pages/`` listed as a page. Once app.py has run, the server uses its navigation for good.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        st.switch_page(str(Path(__file__).resolve().parent.parent / "app.py"))


def start_session() -> None:
    """Give this browser session an id in the URL (``?session=``) and, after a reload, put its state back."""
    from workbench.ui_support import session

    sid, known = st.query_params.get("session"), st.session_state.get(keys.SESSION_ID)
    if sid is None and known:  # switching pages drops query parameters: the URL gets the id back
        st.query_params["session"] = known
    elif sid is None or sid != known:
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
    from workbench.runtime.discovery import get_host

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


def _field_widget(f: FormField, key: str, initial: Any) -> Any:
    """Draw one option's widget (bounds, steps and choices from its schema) and return its value."""
    label = f.label
    if f.widget == "checkbox":
        return st.checkbox(label, value=bool(initial), help=f.help, key=key)
    if f.widget in ("int", "float"):
        cast = int if f.widget == "int" else float
        value = cast(initial or 0)
        low, high = f.minimum, f.maximum
        if f.widget == "int" and low is not None and f.exclusive[0]:
            low += 1
        bounds = {"min_value": cast(low) if low is not None and value >= low else None,
                  "max_value": cast(high) if high is not None and value <= high else None}
        return st.number_input(label, value=value, step=cast(f.step), help=f.help, key=key, **bounds,
                               **({"format": "%g"} if f.widget == "float" else {}))
    if f.widget == "rate":
        return st.select_slider(label, f.choices_around(initial), value=initial, help=f.help, key=key,
                                format_func=lambda v: "(default)" if v is None else f"{v:g}")
    if f.widget == "select":
        index = f.choices.index(initial) if initial in f.choices else 0
        return st.selectbox(label, f.choices, index=index, help=f.help, key=key,
                            format_func=lambda v: "(none)" if v is None else str(v))
    if f.widget == "multiselect":
        return st.multiselect(label, f.choices, default=initial, help=f.help, key=key)
    if f.widget == "keyvalue":
        import pandas as pd

        st.caption(f"**{label}**: {f.help} (one row per key; a value is a number, text or JSON, a list `1, 2`)")
        return st.data_editor(pd.DataFrame(initial, columns=["key", "value"], dtype=str), num_rows="dynamic",
                              hide_index=True, key=key, width="stretch")
    if f.widget in ("lines", "json"):
        hint = "one per line" if f.widget == "lines" else "JSON"
        return st.text_area(f"{label} ({hint})", value=initial, help=f.help, key=key, height=80)
    return st.text_input(label, value=initial, help=f.help, key=key)


def options_form(component: type, prefix: str, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Draw the component's generated options form; return validated options or None (errors shown at the fields).

    Fields are drawn in their groups (tabs when there are several), advanced ones only on request, and a
    field whose ``when`` condition does not hold is hidden and keeps its value.
    """
    fields = form_fields(component)
    shown_values = {f.name: st.session_state.get(f"{prefix}{f.name}", f.initial(current)) for f in fields}
    advanced = any(f.advanced for f in fields) and st.toggle(
        "Show advanced options", key=f"{prefix}_show_advanced",
        help=f"{sum(f.advanced for f in fields)} options most runs leave at their defaults")
    groups = [g for g in (*GROUPS, *sorted({f.group for f in fields} - set(GROUPS)))
              if any(f.group == g and f.applies(shown_values) and (advanced or not f.advanced) for f in fields)]
    places = dict(zip(groups, st.tabs([GROUPS.get(g, g.capitalize()) for g in groups]))) if len(groups) > 1 else {}
    values, slots = {}, {}
    for f in fields:
        if not f.applies(shown_values) or (f.advanced and not advanced):
            values[f.name] = f.initial(current)  # hidden: keeps its value
            continue
        with places.get(f.group) or st.container():
            values[f.name] = _field_widget(f, f"{prefix}{f.name}", f.initial(current))
            slots[f.name] = st.empty()
    try:
        return to_options(component, values)
    except OptionsError as exc:
        for name, message in exc.fields.items():
            if name in slots:
                slots[name].error(message, icon=":material/error:")
        hidden = {n: m for n, m in exc.fields.items() if n not in slots}
        if hidden:
            st.error("; ".join(f"{n.replace('_', ' ') or 'options'}: {m}" for n, m in hidden.items()))
        return None
    except WorkbenchError as exc:
        show_error(exc)
        return None


def start_run(p: Pipeline, upto: str | None, done: Callable[[Path], str]) -> None:
    """Execute the pipeline (up to a stage) in this process as a task; :func:`follow_run` shows its progress and,
    once it finished, browses its output and shows ``done(run_dir)`` as the success message."""
    target = p.upto(upto) if upto else p
    root = runs_dir()
    st.session_state[keys.RUN_TASK] = {
        "id": tasks.start(lambda ctx: execute_task(target, root, ctx), f"running {len(target.steps)} steps"),
        "steps": len(target.steps), "done": done}
    st.rerun()  # the page redraws with the run's progress panel


def follow_run() -> Path | None:
    """The progress panel of the page's pipeline run; its run folder once it finished (None before, or if it failed
    or was cancelled: the panel says so)."""
    started = st.session_state.get(keys.RUN_TASK)
    task = ended_task(started["id"] if started else None)
    if task is None or started is None:
        return None
    st.session_state.pop(keys.RUN_TASK, None)
    if task.state != "finished":
        return None
    run_dir = task.result
    st.session_state[keys.RUN_DIR] = str(run_dir)
    output = latest_output(run_dir, started["steps"])  # not a later step left by an earlier, longer pipeline
    if output:
        st.session_state[keys.TABLE_PATH] = str(output)
    st.success(started["done"](run_dir))
    return run_dir


def ended_task(task_id: str | None) -> tasks.Task | None:
    """The task once it has ended (then forgotten), drawing its progress panel meanwhile; None while it runs."""
    task = tasks.get(task_id)
    if task is None or task_id is None:
        return None
    progress_panel(f"task_{task_id}", task=task_id)
    if task.running:
        return None
    tasks.discard(task_id)
    return task


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
