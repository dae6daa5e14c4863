"""Experiments: variants of the composed pipeline, their pre-flight, a background run, progress and the comparison."""

import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.experiment.preflight import experiment_preflight
from workbench.runtime.discovery import get_registry
from workbench.ui_support import experiments, keys, tasks

common.require_app()
st.title("Experiments")
st.caption("Ablations, data-size learning curves and seeds: each variant is one change to the pipeline you composed, "
           "run as its own run; shared steps run once; all are compared on the same held-out rows (docs/experiments.md).")
pipeline = common.pipeline()
try:
    addresses = experiments.step_addresses(pipeline)
except WorkbenchError as exc:
    common.show_error(exc)
    st.stop()
if not addresses:
    st.info("Compose a pipeline first (Data, Clean, Train and Evaluate pages): variants change its steps.")
    st.stop()
variants = st.session_state.setdefault(keys.EXPERIMENT_VARIANTS, [])

st.subheader("Variants")
name = st.text_input("Name", key="experiment_name")
kind = st.radio("Change", ["none (the pipeline as it is)", "options of a step", "drop steps", "data fraction", "seeds"],
                key="experiment_change", horizontal=True)
address = without = fraction = seeds = None
if kind == "options of a step":
    address = st.selectbox("Step", addresses, key="experiment_step")
elif kind == "drop steps":
    without = st.multiselect("Steps to drop", addresses, key="experiment_without")
elif kind == "data fraction":
    fraction = st.number_input("Share of the training split", 0.05, 1.0, 0.5, 0.05, key="experiment_fraction")
elif kind == "seeds":
    seeds = st.text_input("Seeds (e.g. 13, 14, 15)", key="experiment_seeds")
patch = None
if kind == "options of a step":
    step = next(s for s in pipeline.runfile().steps if f"{s.kind}:{s.component_name}" == address)
    st.caption(f"Options of {address} for this variant (only what you change is kept)")
    component = get_registry().entry(step.family, step.component_name).component
    edited = common.options_form(component, f"experiment_{address}_", step.options)
    patch = experiments.options_patch(component, step.options, edited) if edited is not None else None
if st.button("Add variant", key="experiment_add"):
    try:
        new = experiments.variant(name, address=address, patch=patch, without=without, data_fraction=fraction,
                                  seeds=seeds or "")
        experiments.build(pipeline, [*variants, new])
    except WorkbenchError as exc:
        common.show_error(exc)
    else:
        variants.append(new)
        st.rerun()
if not variants:
    st.info("No variants yet: add the pipeline as it is first (the reference), then one change per variant.")
    st.stop()
st.dataframe([{"variant": v["name"], "change": experiments.describe(v)} for v in variants], hide_index=True,
             key="experiment_variants_table")
reference = st.selectbox("Reference variant", [v["name"] for v in variants], key="experiment_reference")
drop = st.selectbox("Remove a variant", ["—", *[v["name"] for v in variants]], key="experiment_remove")
if drop != "—" and st.button("Remove", key="experiment_remove_button"):
    variants[:] = [v for v in variants if v["name"] != drop]
    st.rerun()
try:
    text = experiments.to_toml(pipeline, variants, reference)
except WorkbenchError as exc:
    common.show_error(exc)
    st.stop()
with st.expander("Experiment file (`workbench experiment FILE`)"):
    st.code(text, language="toml")
    st.download_button("Download", text, file_name=f"{pipeline.name}-experiment.toml", key="experiment_download")

st.subheader("Pre-flight")
task_id = st.session_state.get(keys.EXPERIMENT_PREFLIGHT_TASK)
if st.button("Estimate the whole experiment", key="experiment_preflight", disabled=bool(task_id)):
    exp = experiments.build(pipeline, variants, reference)
    runs_dir = common.runs_dir()
    st.session_state[keys.EXPERIMENT_PREFLIGHT_TASK] = tasks.start(
        lambda ctx: experiment_preflight(exp, runs_dir, ctx=ctx), "experiment pre-flight")
    st.rerun()
task = common.ended_task(task_id)
if task is not None:
    if task.error:
        common.show_error(task.error)
    else:
        st.session_state["experiment_preflight_result"] = task.result
    st.session_state.pop(keys.EXPERIMENT_PREFLIGHT_TASK, None)
figures = st.session_state.get("experiment_preflight_result")
if figures:
    st.dataframe(figures["runs"], hide_index=True, key="experiment_preflight_table")
    total = figures["training_seconds"]
    st.metric("training, all variants", f"{total / 60:.1f} min" if total else "not measured")
    st.caption(figures["note"])

st.subheader("Run")
exp_dir = experiments.folder(pipeline, common.runs_dir())
state = experiments.progress(exp_dir, common.runs_dir())
left, right = st.columns(2)
label = "Resume" if state["state"] in ("failed", "cancelled", "stopped") else "Start"
if left.button(label, key="experiment_start", disabled=state["alive"]):
    try:
        experiments.start(pipeline, variants, common.runs_dir(), reference)
    except (WorkbenchError, RuntimeError) as exc:
        common.show_error(exc)
    else:
        st.rerun()
if state["alive"] and right.button("Cancel", key="experiment_cancel"):
    experiments.cancel(exp_dir, common.runs_dir())
    st.rerun()


@st.fragment(run_every=2 if state["alive"] else None)
def follow() -> None:
    now = experiments.progress(exp_dir, common.runs_dir())
    st.caption(f"experiment: {now['state']}")
    if now["runs"]:
        st.dataframe(now["runs"], hide_index=True, key="experiment_progress")
    if now["error"]:
        st.error(now["error"])
    if state["alive"] and not now["alive"]:
        st.rerun()


follow()
result = experiments.report(exp_dir)
if result and not state["alive"]:
    st.subheader("Comparison")
    st.dataframe(experiments.run_rows(result), hide_index=True, key="experiment_runs")
    st.caption(f"Against the reference variant ({result['reference']}); Holm p adjusts each family of tests.")
    st.dataframe(experiments.comparison_rows(result), hide_index=True, key="experiment_vs_reference")
    st.caption("Against the base model")
    st.dataframe(experiments.comparison_rows(result, "vs_base"), hide_index=True, key="experiment_vs_base")
    if result["seeds"]:
        st.caption("Across seeds: the mean tested as one (the seeds' runs stacked and paired)")
        st.dataframe(experiments.seed_rows(result), hide_index=True, key="experiment_seeds_table")
    for curve in result["learning_curves"]:
        st.markdown(f"**Learning curve ({curve['metric']})**: {curve['reading']}")
        st.line_chart([{"training rows": p["train_rows"], curve["metric"]: p["score"]} for p in curve["points"]],
                      x="training rows", y=curve["metric"])
    html = exp_dir / "report.html"
    if html.exists():
        st.download_button("Download the HTML report", html.read_text(encoding="utf-8"), file_name="experiment.html",
                           key="experiment_report_download")
