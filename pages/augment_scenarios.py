"""Augment and Scenarios: generate variants and scenarios, review them beside their source, save."""

import polars as pl
import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.ui_support import keys, review, tasks
from workbench.ui_support.diffs import diff_markdown, text_markdown
from workbench.ui_support.forms import changed_options

common.require_app()
st.title("Augment and scenarios")
table_path = common.require_table()
host = common.host()
p = common.pipeline()

FAMILIES = {"augment": "augmenter", "scenarios": "scenario"}
CHOICES = {"pending": "undecided", "accept": "keep", "reject": "reject"}
#: session key of the generation running in the background (a task id)
TASK = "aug_task"
chosen: dict[tuple[str, str], dict] = {}
ready = True
for kind, family in FAMILIES.items():
    names = host.registry.names(family)
    current = {s["component"]: s.get("options", {}) for s in p.stage(kind) if s.get("component")}
    picked = st.multiselect("Augmenters" if kind == "augment" else "Scenario generators", names,
                            default=[n for n in current if n in names], key=f"{kind}_pick",
                            format_func=lambda n, f=family: f"{n} — {host.registry.get(f, n).description}")
    for name in picked:
        with st.expander(f"Options of {name}"):
            options = common.options_form(host.registry.get(family, name), f"{kind}_{name}_", current.get(name))
        ready = ready and options is not None
        chosen[(kind, name)] = options


def set_all(decision: str) -> None:
    generated = st.session_state.get(keys.CANDIDATES)
    for row_id in generated["id"].to_list() if generated is not None else []:
        st.session_state[keys.DECISIONS][row_id] = decision
        st.session_state[f"aug_decision_{row_id}"] = decision


left, right = st.columns(2)
sample_size = left.number_input("Source rows to try", min_value=1, value=20, key="aug_sample")
if right.button("Generate for review", key="aug_generate", disabled=not chosen or not ready):
    frame, todo = pl.read_parquet(table_path), [(FAMILIES[k], n, o) for (k, n), o in chosen.items()]
    st.session_state[TASK] = tasks.start(lambda ctx: review.try_all(todo, frame, int(sample_size), seed=p.seed,
                                                                     host=host, ctx=ctx), "generating on a sample")
task = common.ended_task(st.session_state.get(TASK))
if task is not None:
    st.session_state.pop(TASK)
    tried, failed = task.result if task.state == "finished" else ([], [])
    for exc in failed:
        common.show_error(exc)
    if task.state == "finished" and not failed:
        st.session_state[keys.PREVIEW] = tried
        st.session_state[keys.CANDIDATES] = review.candidates(tried)
        st.session_state[keys.DECISIONS] = {}

generated = st.session_state.get(keys.CANDIDATES)
if generated is not None:
    tried = st.session_state.get(keys.PREVIEW) or []
    decisions = st.session_state.setdefault(keys.DECISIONS, {})
    filtered = sum(t.counts()["rejected"] for t in tried)
    if not generated.height:
        st.warning(f"The generators produced no rows on this sample ({filtered} candidates failed their filters). "
                   "Try more source rows or other options.")
    b1, b2 = st.columns(2)
    b1.button("Accept all", key="aug_accept_all", on_click=set_all, args=("accept",))
    b2.button("Reject all", key="aug_reject_all", on_click=set_all, args=("reject",))
    messages = dict(zip(generated["id"].to_list(), generated["messages"].to_list()))
    shown = [row for t in tried for row in t.added()]
    for row in shown[:100]:
        with st.container(border=True):
            src, var = st.columns(2)
            src.caption(f"source {row['source_id']}" if row["source"] else "new (no source row in the sample)")
            src.markdown(text_markdown(row["source"]) if row["source"] else "")
            var.caption(f"{row['id']} · {row['origin']}" + (f" · {row['scenario']}" if row["scenario"] else ""))
            var.markdown(diff_markdown(row["diff"]))
            choice = st.radio("Decision", CHOICES, key=f"aug_decision_{row['id']}", horizontal=True,
                              format_func=CHOICES.get, label_visibility="collapsed")
            prompt = reference = None
            if choice == "accept":
                with st.expander("Edit before keeping"):
                    old_prompt, old_reference = review.prompt_reference(messages.get(row["id"]))
                    prompt = st.text_area("User turn", old_prompt, key=f"aug_prompt_{row['id']}")
                    reference = st.text_area("Reference answer", old_reference, key=f"aug_reference_{row['id']}")
            if choice == "pending":
                decisions.pop(row["id"], None)
            else:
                decisions[row["id"]] = review.decide(choice == "accept", messages.get(row["id"]), prompt, reference)
    if len(shown) > 100:
        st.caption(f"Showing 100 of {len(shown)} generated rows; Accept all / Reject all apply to every one.")
    r = review.rates(decisions, generated.height, filtered)
    st.subheader("Acceptance")
    cols = st.columns(6)
    for i, name in enumerate(("accepted", "edited", "rejected", "pending", "acceptance", "filtered_out")):
        cols[i].metric(name.replace("_", " "), f"{r[name]:.0%}" if name == "acceptance" else r[name])
    st.dataframe(review.rates_by_origin(generated, decisions).to_pandas(), hide_index=True, key="aug_rates")
    st.caption("Pending rows are treated as rejected when you save; every decision is written to the review "
               "ledger beside the curated dataset.")
    if st.button("Save curated dataset", key="aug_save", type="primary"):
        try:
            table, ledger = review.apply(pl.read_parquet(table_path), generated, decisions)
        except WorkbenchError as exc:
            common.show_error(exc)
        else:
            st.session_state[keys.PIPELINE] = review.save_curated(p, table, common.runs_dir(), ledger)
            st.session_state[keys.REVIEW_LEDGER] = ledger
            saved = (f"Saved the curated dataset: {table.height} rows "
                     f"({int((ledger['action'] == 'added').sum())} reviewed rows kept)")
            common.start_run(st.session_state[keys.PIPELINE], "split", lambda _run: saved)

ledger = st.session_state.get(keys.REVIEW_LEDGER)
if ledger is not None:
    with st.expander("Review ledger of the last save"):
        st.dataframe(ledger.select("row_id", "action", "reason", "detail").to_pandas(), hide_index=True,
                     key="aug_review_ledger")

if st.button("Add to the run file without review", key="aug_add_stage", disabled=not ready):
    for kind, family in FAMILIES.items():
        p.set_stage(kind, [{"kind": kind, "component": n, "options": changed_options(host.registry.get(family, n), o)}
                           for (k, n), o in chosen.items() if k == kind])
    common.start_run(p, "split", lambda _run: "Applied to the whole dataset.")

common.follow_run()
common.runfile_panel("augment")
