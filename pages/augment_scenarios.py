"""Augment and Scenarios: generate variants and scenarios, review them beside their source, save."""

import polars as pl
import streamlit as st

from pages import common
from workbench.ui_support import keys, preview, review
from workbench.ui_support.forms import changed_options

st.title("Augment and scenarios")
table_path = common.require_table()
host = common.host()
p = common.pipeline()

FAMILIES = {"augment": "augmenter", "scenarios": "scenario"}
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
        st.session_state[f"aug_keep_{row_id}"] = decision == "accept"


left, right = st.columns(2)
sample_size = left.number_input("Source rows to try", min_value=1, value=20, key="aug_sample")
if right.button("Generate for review", key="aug_generate", disabled=not chosen or not ready):
    frame = preview.sample(pl.read_parquet(table_path), int(sample_size), p.seed)
    try:
        with st.spinner("Generating…"):
            previews = [preview.run(FAMILIES[k], n, o, frame, seed=p.seed, host=host) for (k, n), o in chosen.items()]
    except Exception as exc:  # noqa: BLE001 - any component failure is shown, not raised
        common.show_error(exc)
    else:
        st.session_state[keys.PREVIEW] = previews
        st.session_state[keys.CANDIDATES] = review.candidates(previews)
        st.session_state[keys.DECISIONS] = {}

generated = st.session_state.get(keys.CANDIDATES)
if generated is not None:
    previews = st.session_state.get(keys.PREVIEW) or []
    decisions = st.session_state.setdefault(keys.DECISIONS, {})
    b1, b2 = st.columns(2)
    b1.button("Accept all", key="aug_accept_all", on_click=set_all, args=("accept",))
    b2.button("Reject all", key="aug_reject_all", on_click=set_all, args=("reject",))
    shown = pl.concat([pr.variants() for pr in previews]) if previews else pl.DataFrame()
    for row in shown.head(100).iter_rows(named=True):
        with st.container(border=True):
            src, var = st.columns(2)
            src.caption(f"source {row['source_id']}")
            src.text(row["source"])
            var.caption(f"{row['id']} · {row['origin']}" + (f" · {row['scenario']}" if row["scenario"] else ""))
            var.markdown(row["diff"] or row["variant"])
            keep = st.checkbox("keep", key=f"aug_keep_{row['id']}", value=decisions.get(row["id"]) == "accept")
            decisions[row["id"]] = "accept" if keep else "reject"
    filtered = sum(pr.counts()["rejected"] for pr in previews)
    r = review.rates(decisions, generated.height, filtered)
    cols = st.columns(5)
    for i, name in enumerate(("accepted", "rejected", "pending", "acceptance", "filtered_out")):
        cols[i].metric(name.replace("_", " "), r[name])
    if st.button("Save curated dataset", key="aug_save", type="primary"):
        table = review.curated(pl.read_parquet(table_path), generated, decisions)
        st.session_state[keys.PIPELINE] = review.save_curated(p, table, common.runs_dir())
        if common.run_now(st.session_state[keys.PIPELINE], upto="split"):
            st.success(f"Saved the curated dataset: {table.height} rows")

if st.button("Add to the run file without review", key="aug_add_stage", disabled=not ready):
    for kind, family in FAMILIES.items():
        p.set_stage(kind, [{"kind": kind, "component": n, "options": changed_options(host.registry.get(family, n), o)}
                           for (k, n), o in chosen.items() if k == kind])
    if common.run_now(p, upto="split"):
        st.success("Applied to the whole dataset.")

common.runfile_panel("augment")
