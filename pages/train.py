"""Train: pick a trainer and its options, see the pre-flight estimate, train in the background."""

from pathlib import Path

import polars as pl
import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.training import planning as training
from workbench.ui_support import jobs, keys, tasks
from workbench.ui_support.forms import changed_options

common.require_app()
st.title("Train")
host = common.host()


def preflight_tiles(figures: dict) -> None:
    """Pre-flight figures as metric tiles (the trainer's own, or the rough ones when it could not run)."""
    shown = training.preflight_figures(figures)
    tiles = ("examples", "tokens per epoch", "optimiser steps", "memory", "expected time")
    for col, label in zip(st.columns(len(tiles)), tiles):
        col.metric(label, shown[label])
    rest = [f"{k}: {v}" for k, v in shown.items() if k not in tiles]
    if rest:
        st.caption(" · ".join(rest))


def collect_preflight(task_id: str, options: dict | None) -> None:
    """The ended pre-flight task's figures (or, when it failed, why, and the rough figures of the options
    shown) into the session."""
    task = tasks.get(task_id)
    st.session_state.pop(keys.PREFLIGHT_TASK, None)
    if task is None or task.state == "cancelled":  # a restarted server forgot it, or the user cancelled it
        return
    if task.state == "finished":
        st.session_state[keys.PREFLIGHT] = task.result
    else:
        st.session_state[keys.PREFLIGHT_ERROR] = str(task.error)
        if options is not None:
            st.session_state[keys.PREFLIGHT] = training.local_estimate(pl.read_parquet(table_path), options)
    tasks.discard(task_id)


@st.fragment(run_every=2)
def monitor(run_dir: Path) -> None:
    """Live state of the background run; redraws itself every 2 s, whatever the page does."""
    s = jobs.status(run_dir)
    st.subheader(f"Run {run_dir.name}: {s.state}" + (" (cancel requested)" if s.cancelling and not s.done else ""))
    progress = s.progress or {}
    if progress.get("total"):
        st.progress(min(1.0, progress.get("n", 0) / progress["total"]), text=jobs.eta_text(progress))
    elif s.alive:
        st.caption(f"{s.step or 'starting'}: {jobs.eta_text(s.progress)}")
    if s.preflight:
        preflight_tiles(s.preflight)
    rows = jobs.chart_rows(s.history)
    if rows:
        chart = pl.DataFrame(rows, infer_schema_length=None).to_pandas().set_index("step")
        left, right = st.columns(2)
        left.caption("loss")
        left.line_chart(chart[[c for c in ("loss", "val") if c in chart]])
        if "tok_s" in chart:
            right.caption("throughput (tokens/s)")
            right.line_chart(chart[["tok_s"]])
    if s.steps:
        st.dataframe(pl.DataFrame(s.steps).to_pandas(), hide_index=True)
    if s.alive and st.button("Cancel training", key="train_cancel", disabled=s.cancelling):
        jobs.cancel(run_dir)
        st.rerun(scope="fragment")
    if s.state in ("failed", "lost"):
        st.error(s.error or "The training process ended without finishing; its log is below.")
    if s.done and s.state == "finished":
        st.success("Training finished. Evaluate it on the Evaluate page.")
    with st.expander("Log"):
        st.code(s.log_tail or "(empty)")


job_dir = st.session_state.get(keys.JOB_RUN_DIR)
if job_dir is None:  # re-attach to a job started from an earlier page load
    job_dir = next((str(p.parent) for p in sorted(common.runs_dir().glob(f"*/{jobs.JOB_FILE}"))
                    if jobs.status(p.parent).alive), None)
    st.session_state[keys.JOB_RUN_DIR] = job_dir

table_path = st.session_state.get(keys.TABLE_PATH)
if table_path and Path(table_path).exists() and common.pipeline().stage("load"):
    p = common.pipeline()
    trainers = host.registry.names("trainer")
    current = next(iter(p.stage("train")), {})
    default = current.get("component") or "hf-causal-lm"
    name = st.radio("Trainer", trainers, index=trainers.index(default) if default in trainers else 0,
                    key="train_trainer", horizontal=True)
    trainer = host.registry.get("trainer", name)
    st.caption(trainer.description)
    st.subheader("Options")
    options = common.options_form(trainer, f"train_{name}_",
                                  current.get("options") if current.get("component", default) == name else None)
    with st.expander("Split"):
        split_step = next(iter(p.stage("split")), {})
        split_options = common.options_form(host.registry.get("step", "split"), "train_split_", split_step.get("options"))
    secret_name = (options or {}).get("api_key_env")
    if secret_name:
        st.text_input(f"API key ({secret_name}), kept for this browser session only", type="password",
                      key="train_api_key")
    st.subheader("Pre-flight")
    st.caption("What training would take (examples, steps, memory, time) before anything is trained.")
    if st.button("Pre-flight estimate", key="train_estimate", disabled=options is None,
                 help="fix the options marked in red first" if options is None else None):
        st.session_state.pop(keys.PREFLIGHT_ERROR, None)
        try:
            table = pl.read_parquet(table_path)
            if secret_name:
                st.session_state[keys.PREFLIGHT] = training.openai_estimate(table, options)
            else:  # loads the model and times a short warm-up: in a thread, followed by the progress panel
                tasks.discard(st.session_state.pop(keys.PREFLIGHT_TASK, None))
                st.session_state.pop(keys.PREFLIGHT, None)
                st.session_state[keys.PREFLIGHT_TASK] = tasks.start(
                    lambda ctx, t=table, o=dict(options): training.local_preflight(t, o, ctx), "pre-flight")
        except WorkbenchError as exc:
            common.show_error(exc)
    preflight_task = st.session_state.get(keys.PREFLIGHT_TASK)
    if preflight_task and getattr(tasks.get(preflight_task), "running", False):
        common.progress_panel("train_preflight", task=preflight_task, label="pre-flight")  # reruns the page at the end
    elif preflight_task:
        collect_preflight(preflight_task, options)
    if st.session_state.get(keys.PREFLIGHT_ERROR):
        common.show_error(WorkbenchError(f"the pre-flight could not run: {st.session_state[keys.PREFLIGHT_ERROR]}",
                                         hint="check the model option; the rough figures below need no model"))
    estimate = st.session_state.get(keys.PREFLIGHT)
    if isinstance(estimate, str) and secret_name:
        st.info(estimate)
    elif isinstance(estimate, dict) and not secret_name:
        preflight_tiles(estimate)
        st.caption("Expected time comes from a measured warm-up on this machine; shared CPUs may run slower.")
    st.divider()
    st.subheader("Train")
    running = job_dir is not None and jobs.status(Path(job_dir)).alive
    if running:
        st.caption("A training job is running; it is followed below.")
    if st.button("Start training in the background", key="train_start", type="primary",
                 disabled=options is None or split_options is None or running):
        p.set_stage("split", [{"kind": "split", "options": changed_options(host.registry.get("step", "split"), split_options)}])
        p.set_stage("train", [{"kind": "train", "component": name, "options": changed_options(trainer, options)}])
        # the key lives in this session's widget state only and reaches the job through its environment
        secrets = {secret_name: st.session_state.get("train_api_key", "")} if secret_name else {}
        try:
            job_dir = str(jobs.start(p.upto("evaluate"), common.runs_dir(), secrets))
        except (WorkbenchError, RuntimeError, OSError) as exc:
            common.show_error(exc)
        else:
            st.session_state[keys.JOB_RUN_DIR] = job_dir
            st.session_state[keys.RUN_DIR] = job_dir
    common.runfile_panel("train")
elif job_dir is None:
    common.require_table()

if job_dir:
    monitor(Path(job_dir))
