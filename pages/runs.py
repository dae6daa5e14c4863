"""Runs: history, steps and row counts; open a run in the other pages or compare two."""

from pathlib import Path

import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.ui_support import keys, runs
from workbench.ui_support.pipeline import latest_output, open_run

st.title("Runs")
history = runs.history(common.runs_dir())
st.caption(f"Run folders under `{common.runs_dir()}`")
if not history.height:
    st.info("No runs yet. Compose one on the Data page, or `workbench run RUN.toml`.")
    st.stop()
st.dataframe(history.drop("path").to_pandas(), hide_index=True, key="runs_history")

paths = history["path"].to_list()
picked = st.selectbox("Run", paths, format_func=lambda p: Path(p).name, key="runs_pick")
st.dataframe(runs.steps(picked).drop("folder").to_pandas(), hide_index=True, key="runs_steps")
if st.button("Open in the workbench", key="runs_open"):
    try:
        st.session_state[keys.PIPELINE] = open_run(picked)
    except WorkbenchError as exc:
        common.show_error(exc)
    else:
        st.session_state[keys.RUN_DIR] = picked
        output = latest_output(picked)
        if output:
            st.session_state[keys.TABLE_PATH] = str(output)
        st.session_state.pop(keys.VALIDATION, None)
        st.success(f"Opened {Path(picked).name}: the other pages now show it.")
with st.expander("Its run file"):
    run_toml = Path(picked) / "run.toml"
    st.code(run_toml.read_text(encoding="utf-8") if run_toml.exists() else "(no run.toml)", language="toml")

st.subheader("Compare two runs")
left, right = st.columns(2)
a = left.selectbox("Run A", paths, format_func=lambda p: Path(p).name, key="runs_a")
b = right.selectbox("Run B", paths, index=min(1, len(paths) - 1), format_func=lambda p: Path(p).name, key="runs_b")
st.dataframe(runs.compare(a, b).to_pandas(), hide_index=True, key="runs_compare")
if st.button("Compare their evaluations", key="runs_to_evaluate"):
    st.session_state[keys.RUN_DIR] = a
    st.session_state["eval_other"] = b
    st.switch_page("pages/evaluate.py")
