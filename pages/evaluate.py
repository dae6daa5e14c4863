"""Evaluate and compare: run the evaluation, read metrics with CIs, compare answers, vote blind."""

import json
from pathlib import Path

import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.ui_support import evaluation, jobs, keys, runs
from workbench.ui_support.diffs import text_markdown
from workbench.ui_support.forms import changed_options
from workbench.ui_support.pipeline import open_run

EMPTY = "_(empty answer)_"
st.title("Evaluate and compare")
host = common.host()
history = runs.history(common.runs_dir())
if not history.height:
    st.info("No runs yet: train a model on the Train page (or run `workbench run`) first.")
    st.stop()
paths = history["path"].to_list()
current = st.session_state.get(keys.RUN_DIR)
run_path = st.selectbox("Run", paths, index=paths.index(current) if current in paths else 0,
                        format_func=lambda p: Path(p).name, key="eval_run")
run_dir = Path(run_path)

with st.expander("Run an evaluation on this run", expanded=evaluation.evaluate_step(run_dir) is None):
    try:
        p = open_run(run_dir)
    except WorkbenchError as exc:
        common.show_error(exc)
        st.stop()
    step = next(iter(p.stage("evaluate")), {})
    evaluator = host.registry.get("step", step.get("component") or "evaluate")
    options = common.options_form(evaluator, "eval_opt_", step.get("options"))
    if st.button("Run evaluation in the background", key="eval_start", disabled=options is None):
        p.set_stage("evaluate", [{"kind": "evaluate", "options": changed_options(evaluator, options)}])
        try:
            jobs.start(p.upto("report"), common.runs_dir())
        except (WorkbenchError, RuntimeError, OSError) as exc:
            common.show_error(exc)


@st.fragment(run_every=3)
def job_state() -> None:
    s = jobs.status(run_dir)
    if s.alive:
        st.info(f"{s.step or 'starting'}: {jobs.eta_text(s.progress)}")
    elif s.state in ("failed", "lost") and (run_dir / jobs.JOB_FILE).exists():
        st.error(s.error or "the evaluation process ended without finishing")


job_state()
found = evaluation.evaluate_step(run_dir)
if found is None:
    st.info("This run has no evaluation yet.")
    st.stop()

results, examples = evaluation.load_results(found)
st.subheader("Metrics (95% confidence intervals, paired tests)")
st.dataframe(evaluation.metric_table(results).to_pandas(), hide_index=True, key="eval_metrics", column_config={
    c: st.column_config.NumberColumn(format="%.3g") for c in ("base", "score", "difference", "ci_low", "ci_high")
} | {"p_value": st.column_config.NumberColumn("p-value", format="%.4f")})
st.caption("difference = compared model minus base; ci_low/ci_high bound the difference; p < 0.05 is significant.")
scores, left_out = evaluation.chart_scores(results)
if scores.height:
    st.bar_chart(scores.to_pandas(), x="metric", y="score", color="model", stack=False)
if left_out:
    st.caption(f"Not charted (another scale, see the table): {', '.join(left_out)}.")


def downloads() -> None:
    """The report of :mod:`workbench.report` (human votes included) as HTML, Markdown and JSON."""
    try:
        files = evaluation.report_files(run_dir, results)
    except (WorkbenchError, KeyError, TypeError, ValueError) as exc:
        common.show_error(WorkbenchError(f"the report could not be rendered: {exc}"))
        return
    for col, (fmt, (suffix, mime)) in zip(st.columns(3), evaluation.REPORT_FORMATS.items()):
        col.download_button(f"Download report ({fmt.upper()})", files[fmt], file_name=f"{run_dir.name}-report.{suffix}",
                            mime=mime, key=f"eval_download_{fmt}")


downloads()

compared = list(results.get("comparisons") or {})
if compared:
    model = st.selectbox("Compared model", compared, key="eval_model")
    slices = evaluation.slices_table(results, model)
    if slices.height:
        st.subheader("Slices")
        st.dataframe(slices.to_pandas(), hide_index=True)
    pairs = evaluation.side_by_side(examples, results["base"], model)
    st.subheader("Answers side by side")
    if not pairs.height:
        st.caption("No per-example answers were stored with this evaluation.")
    for row in pairs.head(20).iter_rows(named=True):
        with st.container(border=True):
            st.markdown(f"**{row['id']}** · {text_markdown(row['question'])}")
            if row["reference"]:
                st.caption(f"reference: {row['reference']}")
            base_col, other_col = st.columns(2)
            base_col.caption(f"{results['base']} (base)")
            base_col.markdown(text_markdown(row["base_answer"]) if (row["base_answer"] or "").strip() else EMPTY)
            other_col.caption(f"{model}: word diff from base")
            other_col.markdown(row["diff"] if (row["other_answer"] or "").strip() else EMPTY)

    st.subheader("Blind preference")
    index = st.session_state.setdefault("eval_vote_index", 0)
    pair = evaluation.blind_pair(pairs, index)
    if pair is not None:
        st.caption(f"Example {index % pairs.height + 1} of {pairs.height}: {pair.question}")
        left, right = st.columns(2)
        left.markdown(f"**Answer A**\n\n{text_markdown(pair.left)}")
        right.markdown(f"**Answer B**\n\n{text_markdown(pair.right)}")
        choices = {"eval_vote_left": ("A is better", "left"), "eval_vote_tie": ("Tie", "tie"),
                   "eval_vote_right": ("B is better", "right")}
        for col, (key, (label, choice)) in zip(st.columns(3), choices.items()):
            if col.button(label, key=key):
                evaluation.vote(run_dir, pair, choice, model=model)
                st.session_state["eval_vote_index"] = index + 1
                st.rerun()
    counts = evaluation.tally(run_dir)
    for col, (winner, n) in zip(st.columns(len(counts)), counts.items()):
        col.metric(f"votes: {winner}", n)
    st.caption("Votes are stored in the run's votes.jsonl and appear in the downloaded report.")

st.subheader("Compare with another run")
others = [x for x in paths if x != run_path]
if others:
    other = st.selectbox("Other run", others, format_func=lambda p: Path(p).name, key="eval_other")
    st.dataframe(runs.compare(run_dir, other).to_pandas(), hide_index=True, key="eval_compare_steps")
    other_step = evaluation.evaluate_step(Path(other))
    if other_step is not None:
        st.dataframe(evaluation.metric_table(evaluation.load_results(other_step)[0]).to_pandas(), hide_index=True)
