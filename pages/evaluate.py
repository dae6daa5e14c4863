"""Evaluate and compare: the ship verdict first, then metrics, every answer, a blind review, other runs."""

from pathlib import Path

import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.evaluation.bias import page_block
from workbench.evaluation.verdict import ship_verdict
from workbench.ui_support import blind_review, evaluation, jobs, keys, runs
from workbench.ui_support.diffs import text_markdown
from workbench.ui_support.forms import changed_options
from workbench.ui_support.pipeline import open_run

common.require_app()
EMPTY = "_(empty answer)_"
STATUS = {"pass": (":material/check_circle:", "green"), "warn": (":material/warning:", "orange"),
          "fail": (":material/cancel:", "red")}
MODES = ("Verdict and metrics", "Answers", "Blind review", "Compare with another run")
PAGE_SIZE = 20

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
st.session_state[keys.RUN_DIR] = run_path  # the run being evaluated is the session's run (kept across reloads)
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

common.progress_panel("eval_job", run_dir=run_dir, label="last background job of this run")
found = evaluation.evaluate_step(run_dir)
if found is None:
    st.info("This run has no evaluation yet.")
    st.stop()
results, examples = evaluation.load_results(found)
compared = list(results.get("comparisons") or {})
model = st.selectbox("Compared model", compared, key="eval_model") if len(compared) > 1 else next(iter(compared), None)
mode = st.radio("View", MODES, horizontal=True, key="eval_mode", label_visibility="collapsed")


def verdict_panel() -> None:
    """:func:`workbench.evaluation.verdict.ship_verdict` as it is: the headline, then each check."""
    v = ship_verdict(results, model)
    icon, _ = STATUS[v["status"]]
    box = {"pass": st.success, "warn": st.warning, "fail": st.error}[v["status"]]
    with st.container(border=True, key="eval_verdict"):
        st.subheader(f"Ship verdict for {v['model']}")
        box(v["headline"], icon=icon)
        for check in v["checks"]:
            mark, color = STATUS[check["status"]]
            st.markdown(f"{mark} **{check['name']}** :{color}[{check['status'].upper()}] · {text_markdown(check['summary'])}")
            st.caption(f"threshold: {check['threshold']}" + (f" · {check['detail']}" if check["detail"] else ""))
        if not v["checks"]:
            st.caption("This evaluation has no correctness, primary-metric or forgetting figures to judge.")


def metrics_section() -> None:
    table, skipped = evaluation.metric_table(results, model)
    st.subheader("Metrics (95% confidence intervals, paired tests)")
    if table.height:
        st.dataframe(table.to_pandas(), hide_index=True, key="eval_metrics", column_config={
            c: st.column_config.NumberColumn(format="%.3g") for c in ("base", "score", "difference", "ci_low", "ci_high")
        } | {"p_value": st.column_config.NumberColumn("p-value", format="%.4f")})
        st.caption("difference = compared model minus base; ci_low/ci_high bound the difference; p < 0.05 is "
                   "significant. The direction says whether a higher score is better, worse, or neither.")
    if skipped:
        st.caption("Not computed: " + "; ".join(skipped) + ".")
    scores, left_out = evaluation.chart_scores(results)
    if scores.height:
        import altair as alt

        chart = alt.Chart(scores.to_pandas()).mark_bar().encode(
            x=alt.X("score:Q", scale=alt.Scale(domain=[0, 100]), title="score (0-100; shares as %)"),
            y=alt.Y("metric:N", title=None, axis=alt.Axis(labelLimit=400)), yOffset="model:N", color="model:N",
            tooltip=["model", "metric", alt.Tooltip("score:Q", format=".1f")])
        st.altair_chart(chart, width="stretch")
    if left_out:
        st.caption(f"Not charted (not a 0-100 score, see the table): {', '.join(left_out)}.")
    if model:
        slices = evaluation.slices_table(results, model)
        if slices.height:
            st.subheader("Slices")
            st.dataframe(slices.to_pandas(), hide_index=True)


def bias_section() -> None:
    """The counterfactual bias headline and gaps per model and attribute, when probe rows were evaluated."""
    block = page_block(results.get("bias"))
    if block is None:
        return
    st.subheader("Bias: counterfactual probes")
    (st.warning if block["amplified"] else st.info)(text_markdown(block["headline"]))
    st.dataframe(block["rows"], hide_index=True, key="eval_bias", column_config={
        c: st.column_config.NumberColumn(format="%.3g") for c in ("gap", "ci_low", "ci_high")
    } | {"p_value": st.column_config.NumberColumn("p-value", format="%.4f")})
    st.caption("Per model and attribute, the measure with the smallest p: gap = highest minus lowest value mean over "
               "the probe groups (higher / lower name the values), p from a permutation within groups; amplified = "
               "the tuned model's gap and its increase over the base both at p < 0.05. Every measure and the "
               "amplification table are in the report (docs/bias.md).")


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


def answers_section() -> None:
    """Every answer, sorted and filtered, with its word diff from the reference (or the base answer)."""
    against = st.radio("Word diff against", evaluation.DIFF_AGAINST, horizontal=True, key="eval_diff_against",
                       format_func=lambda a: "the reference answer" if a == "reference" else "the base model's answer")
    table = evaluation.answers(examples, results, model, against)
    if not table.height:
        st.caption("No per-example answers were stored with this evaluation.")
        return
    sort_col, facts_col, text_col = st.columns([1, 1, 2])
    sort = sort_col.selectbox("Sort", list(evaluation.SORTS), key="eval_sort")
    verdicts = sorted(set(table["facts"].fill_null("(none)").to_list()))
    facts = facts_col.multiselect("Facts verdict", verdicts, key="eval_facts") if verdicts != ["(none)"] else []
    text = text_col.text_input("Search question and answers", key="eval_search")
    shown = evaluation.browse(table, sort, facts, text)
    pages = max(1, -(-shown.height // PAGE_SIZE))
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key="eval_page")
    st.caption(f"{shown.height} of {table.height} answers; {PAGE_SIZE} per page.")
    metric = evaluation.primary_metric(results, model)
    for row in shown.slice((page - 1) * PAGE_SIZE, PAGE_SIZE).iter_rows(named=True):
        with st.container(border=True):
            score = f" · {metric} {row['score']:.3g}" if row["score"] is not None else ""
            facts_text = f" · facts: {row['facts']}" if row["facts"] else ""
            st.markdown(f"**{text_markdown(row['id'])}**{score}{facts_text} · {text_markdown(row['question'])}")
            if row["reference"] and against != "reference":
                st.caption(f"reference: {row['reference']}")
            left, right = st.columns(2)
            if against == "reference":
                left.caption("reference answer")
                left.markdown(text_markdown(row["reference"] or ""))
            else:
                left.caption(f"{results['base']} (base)")
                left.markdown(text_markdown(row["base_answer"]) if (row["base_answer"] or "").strip() else EMPTY)
            right.caption(f"{model}: word diff from the {against}")
            right.markdown(row["diff"] if (row["answer"] or "").strip() else EMPTY)


def blind_section() -> None:
    """One example at a time, A/B in this voter's own order, no model names or tallies until the voter finishes."""
    table = evaluation.answers(examples, results, model)
    if not table.height:
        st.caption("No per-example answers were stored with this evaluation.")
        return
    known = st.query_params.get("voter") or st.session_state.get(keys.VOTER, "")
    voter = st.text_input("Your name (each voter's progress is kept with the run)", value=known, key="eval_voter").strip()
    if not voter:
        st.info("Type your name to start: every voter judges the same examples in their own A/B order.")
        return
    # the voter, and so their place, survives a reload (the URL) and a visit to another page (the session)
    st.query_params["voter"] = st.session_state[keys.VOTER] = voter
    review = blind_review.stored_set(run_dir, model)
    if review is None:
        size = st.number_input("Examples to review (fixed for every voter once the first vote is cast)", min_value=1,
                               max_value=table.height, value=min(blind_review.DEFAULT_SIZE, table.height),
                               key="eval_review_size")
        review = blind_review.sample_set(run_dir, model, table["id"].to_list(), int(size))
    done = blind_review.voter_votes(run_dir, voter, model)
    todo = blind_review.next_example(review, done)
    judged = sum(i in done for i in review)
    st.progress(judged / len(review), text=f"{voter}: {judged} of {len(review)} examples judged")
    if todo is not None:
        row = table.filter(table["id"] == todo).row(0, named=True)
        pair = blind_review.pair(row, voter, run_dir, model)
        with st.container(border=True, key="eval_blind_example"):
            st.markdown(f"**Question** · {text_markdown(pair.question)}")
            if st.checkbox("Show the reference answer", key="eval_show_reference") and pair.reference:
                st.caption(f"reference: {pair.reference}")
            a_col, b_col = st.columns(2)
            a_col.markdown(f"**Answer A**\n\n{text_markdown(pair.a) if pair.a.strip() else EMPTY}")
            b_col.markdown(f"**Answer B**\n\n{text_markdown(pair.b) if pair.b.strip() else EMPTY}")
        choices = {"eval_vote_a": ("A is better", "A"), "eval_vote_tie": ("Tie", "tie"), "eval_vote_b": ("B is better", "B")}
        for col, (key, (label, choice)) in zip(st.columns(3), choices.items()):
            if col.button(label, key=key):
                try:
                    blind_review.fix_review_set(run_dir, model, review)
                    blind_review.cast(run_dir, pair, choice, voter, model)
                except WorkbenchError as exc:
                    common.show_error(exc)
                else:
                    st.rerun()
        st.caption("Model names and tallies appear once you have judged every example of the set.")
        return
    st.success(f"{voter}, you have judged all {len(review)} examples. Thank you.")
    outcome = blind_review.results(run_dir, model, review)
    for col, (winner, n) in zip(st.columns(3), outcome["tally"].items()):
        col.metric(f"votes: {winner}", n)
    st.dataframe(outcome["per_voter"].to_pandas(), hide_index=True, key="eval_votes_per_voter")
    a = outcome["agreement"]
    if a:
        kappa = "undefined (every vote the same)" if a["kappa"] is None else f"{a['kappa']:.2f}"
        st.caption(f"Agreement of {', '.join(a['voters'])} on {a['examples']} examples: {a['method']} {kappa} "
                   f"(1 = perfect, 0 = chance); all chose the same on {a['raw']:.0%}.")
    else:
        st.caption("Agreement appears when at least two voters have finished.")
    with st.expander("Your votes with the models revealed"):
        for example_id in review:
            p = blind_review.pair(table.filter(table["id"] == example_id).row(0, named=True), voter, run_dir, model)
            st.markdown(f"**{text_markdown(example_id)}**: A was {p.a_is}; you chose {done.get(example_id)}")
    st.caption("Votes are stored in the run's votes.jsonl and appear in the downloaded report.")


def compare_section() -> None:
    """Another run beside this one: steps and row counts, and metric deltas of the compared model."""
    others = [x for x in paths if x != run_path]
    if not others:
        st.caption("There is no other run to compare with.")
        return
    if st.session_state.get("eval_other") not in others:  # set by the Runs page, or left from another run
        st.session_state.pop("eval_other", None)
    other = st.selectbox("Other run", others, format_func=lambda p: Path(p).name, key="eval_other")
    other_step = evaluation.evaluate_step(Path(other))
    if other_step is None:
        st.info(f"{Path(other).name} has no evaluation yet; only its steps are compared.")
    else:
        deltas = evaluation.metric_deltas(results, evaluation.load_results(other_step)[0], model or "tuned")
        st.caption(f"Run A = {run_dir.name}, run B = {Path(other).name}; b_minus_a is B's score minus A's.")
        st.dataframe(deltas.to_pandas(), hide_index=True, key="eval_compare_metrics",
                     column_config={c: st.column_config.NumberColumn(format="%.3g") for c in ("run_a", "run_b", "b_minus_a")})
    st.dataframe(runs.compare(run_dir, other).to_pandas(), hide_index=True, key="eval_compare_steps")


if mode == MODES[0]:
    verdict_panel()
    metrics_section()
    bias_section()
    downloads()
elif mode == MODES[1]:
    answers_section()
elif mode == MODES[2]:
    blind_section()
else:
    compare_section()
