"""Clean: pick cleaners, set their options, preview diffs on a sample, apply, review the ledger."""

from pathlib import Path

import polars as pl
import streamlit as st

from pages import common
from workbench import store
from workbench.errors import WorkbenchError
from workbench.ui_support import data, keys, review
from workbench.ui_support.diffs import diff_markdown, text_markdown
from workbench.ui_support.forms import changed_options

st.title("Clean")
table_path = common.require_table()
host = common.host()
p = common.pipeline()

names = host.registry.names("cleaner")
current = {s["component"]: s.get("options", {}) for s in p.stage("clean") if s.get("component")}
picked = st.multiselect("Cleaners, applied in this order", names, default=[n for n in current if n in names],
                        key="clean_pick", format_func=lambda n: f"{n} — {host.registry.get('cleaner', n).description}")
chosen = {}
for name in picked:
    with st.expander(f"Options of {name}"):
        options = common.options_form(host.registry.get("cleaner", name), f"clean_{name}_", current.get(name))
    if options is not None:
        chosen[name] = options
ready = len(chosen) == len(picked)

left, right = st.columns(2)
sample_size = left.number_input("Preview sample (rows)", min_value=1, value=50, key="clean_sample")
if right.button("Preview on sample", key="clean_preview", disabled=not picked or not ready):
    frame = pl.read_parquet(table_path)
    tried = []
    with st.spinner("Running the cleaners on the sample (nothing is written)…"):
        for i, (name, options) in enumerate(chosen.items()):
            try:
                tried.append(review.try_component("cleaner", name, options, frame, int(sample_size) if i == 0 else
                                                  frame.height, seed=p.seed, host=host))
            except Exception as exc:  # noqa: BLE001 - any component failure is shown, not raised
                common.show_error(WorkbenchError(f"cleaner {name} failed on the sample: {exc}",
                                                 hint=getattr(exc, "hint", None) or "the cleaners after it were not "
                                                 "previewed; remove it or change its options"))
                break
            frame = tried[-1].table
    st.session_state[keys.PREVIEW] = tried

for tried in st.session_state.get(keys.PREVIEW) or []:
    counts, changes = tried.counts(), tried.changes()
    st.subheader(f"{tried.component}: {counts['changed']} changed, {counts['dropped']} dropped "
                 f"of {tried.sample.height}")
    if not changes:
        st.caption("Nothing to change in this sample.")
    for change in changes[:30]:
        with st.container(border=True):
            st.caption(f"{change['id']} · {change['action']} · {change['reason'] or ''}")
            st.markdown(diff_markdown(change["diff"]) if change["action"] == "changed" else text_markdown(change["before"]))
    if len(changes) > 30:
        st.caption(f"… and {len(changes) - 30} more.")

if st.button("Apply to the dataset", key="clean_apply", disabled=not ready, type="primary"):
    p.set_stage("clean", [{"kind": "clean", "component": n,
                           "options": changed_options(host.registry.get("cleaner", n), o)} for n, o in chosen.items()])
    if common.run_now(p, upto="augment"):
        st.success(f"Cleaned: {st.session_state[keys.RUN_DIR]}")

run_dir = st.session_state.get(keys.RUN_DIR)
if run_dir and store.step_dirs(Path(run_dir)):
    st.subheader("Ledger: dropped and changed rows")
    ledger = store.run_ledger(Path(run_dir))
    ledger = ledger.filter(pl.col("action").is_in(["dropped", "changed"]) & pl.col("step").str.contains("-clean-"))
    st.dataframe(ledger.drop("row").to_pandas(), hide_index=True, key="clean_ledger")
    dropped = ledger.filter(pl.col("action") == "dropped")["row_id"].to_list()
    ids = st.multiselect("Restore dropped rows", dropped, key="clean_restore_ids")
    if st.button("Restore selected rows", key="clean_restore", disabled=not ids):
        try:
            p.add_restore(data.restore_rows(Path(run_dir), ids))
        except WorkbenchError as exc:
            common.show_error(exc)
        else:
            if common.run_now(p, upto="augment"):
                st.success(f"Restored {len(ids)} rows; the run file appends them after cleaning.")

common.runfile_panel("clean")
