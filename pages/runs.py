"""Runs: history, steps and row counts; open a run in the other pages; compare two by settings, metrics, loss."""

from pathlib import Path

import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.ui_support import evaluation, keys, runs
from workbench.ui_support.pipeline import latest_output, open_run

common.require_app()
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
st.markdown("**Settings that differ** (the options each finished step ran with, defaults included)")
settings = runs.settings_diff(a, b)
if settings.height:
    st.dataframe(settings.to_pandas(), hide_index=True, key="runs_settings_diff")
else:
    st.caption("Their finished steps ran with the same settings.")
with st.expander("The run files' diff"):
    st.code(runs.runfile_diff(a, b) or "(the run files are the same)", language="diff")
st.markdown("**Rows per step**")
st.dataframe(runs.compare(a, b).to_pandas(), hide_index=True, key="runs_compare")
found_a, found_b = evaluation.evaluate_step(a), evaluation.evaluate_step(b)
if found_a and found_b:
    st.markdown("**Metrics** (the compared model's scores; b_minus_a is B's minus A's)")
    deltas = evaluation.metric_deltas(evaluation.load_results(found_a)[0], evaluation.load_results(found_b)[0])
    st.dataframe(deltas.to_pandas(), hide_index=True, key="runs_metric_deltas",
                 column_config={c: st.column_config.NumberColumn(format="%.3g") for c in ("run_a", "run_b", "b_minus_a")})
else:
    st.caption("Metric deltas appear when both runs have an evaluation.")
curves = runs.loss_curves(*dict.fromkeys((a, b)))
if curves.height:
    import altair as alt

    st.markdown("**Loss curves**")
    st.altair_chart(alt.Chart(curves.to_pandas()).mark_line(point=True).encode(
        x="step:Q", y=alt.Y("loss:Q", scale=alt.Scale(zero=False)), color="run:N", strokeDash="curve:N",
        tooltip=["run", "curve", "step", alt.Tooltip("loss:Q", format=".4f")]), width="stretch")
else:
    st.caption("Loss curves appear when a run has a finished training step.")
if st.button("Compare their evaluations", key="runs_to_evaluate"):
    st.session_state[keys.RUN_DIR] = a
    st.session_state["eval_other"] = b
    st.session_state["eval_mode"] = "Compare with another run"
    st.switch_page("pages/evaluate.py")
