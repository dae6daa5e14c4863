"""Data: open a dataset, browse it, see its statistics and validation problems."""

from pathlib import Path

import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.ui_support import audit, data, diffs, exposure, keys, runs, stats, table, tasks
from workbench.ui_support.pipeline import Pipeline, open_run, safe_name

common.require_app()
st.title("Data")

#: widgets of the Browse tab; a newly opened file starts with them cleared
BROWSE_KEYS = ("data_search", "data_role", "data_page", *(f"data_filter_{c}" for c in table.FILTER_COLUMNS))


def reset_browse() -> None:
    for key in BROWSE_KEYS:
        st.session_state.pop(key, None)


def use_file(path: Path, confined: bool = False) -> None:
    try:
        if confined:
            path = exposure.confine(path, exposure.data_roots())
        opened = data.open_file(path, common.runs_dir())
    except (WorkbenchError, OSError) as exc:
        common.show_error(exc)
        return
    st.session_state[keys.PIPELINE] = Pipeline(name=safe_name(path.stem.split("-")[0] + "-ui"),
                                               steps=[{"kind": "load", "options": {"path": str(opened.source)}}])
    st.session_state[keys.TABLE_PATH] = str(opened.table_path)
    st.session_state[keys.VALIDATION] = opened
    st.session_state.pop(keys.RUN_DIR, None)
    reset_browse()


source = st.radio("Open", ["Upload a file", "A file on disk", "A run's step output"], horizontal=True,
                  key="data_source")
if source == "Upload a file":
    upload = st.file_uploader("Data file (JSONL, JSON, CSV, Parquet, …)", key="data_upload")
    if upload is not None and st.session_state.get("data_uploaded") != upload.file_id:
        use_file(data.save_upload(upload.name, upload.getvalue(), common.runs_dir()))
        st.session_state["data_uploaded"] = upload.file_id
elif source == "A file on disk":
    roots = exposure.data_roots()
    path = st.text_input("Path", value="sample_data/support.jsonl", key="data_path",
                         help=f"Only files under the data roots open: {', '.join(map(str, roots))} "
                              f"(add folders with {exposure.ROOTS_ENV}).")
    if st.button("Open file", key="data_open"):
        use_file(Path(path), confined=True)
else:
    history = runs.history(common.runs_dir())
    if not history.height:
        st.info(f"No runs under {common.runs_dir()} yet.")
    else:
        run_path = st.selectbox("Run", history["path"].to_list(), format_func=lambda p: Path(p).name, key="data_run")
        steps = runs.run_options(run_path)
        step = st.selectbox("Step", list(steps), index=max(0, len(steps) - 1), key="data_step")
        if st.button("Open step output", key="data_open_run", disabled=not steps):
            try:
                p = open_run(run_path)
            except WorkbenchError as exc:
                common.show_error(exc)
            else:
                p.steps = p.steps[: int(step[:2])]
                st.session_state[keys.PIPELINE] = p
                st.session_state[keys.TABLE_PATH] = str(data.step_output(steps[step]))
                st.session_state[keys.RUN_DIR] = run_path
                st.session_state.pop(keys.VALIDATION, None)
                reset_browse()

path = st.session_state.get(keys.TABLE_PATH)
if not path or not Path(path).exists() or not common.pipeline().stage("load"):
    st.info("Open a dataset above: upload a file, pick one on disk or open a run's step output.")
    st.stop()
path = Path(path)
st.caption(f"Browsing `{path}`")
opened = st.session_state.get(keys.VALIDATION)
if opened is not None and opened.report["rows_invalid"]:
    st.warning(f"{opened.report['rows_invalid']} of {opened.report['rows_read']} records were quarantined "
               f"(not loaded): they have errors. Their lines and hints are below and in the Validation tab.")
    with st.expander(f"Problems ({len(opened.report.get('problems', []))})"):
        st.dataframe(opened.problems().to_pandas(), hide_index=True, key="data_quarantine_problems")
browse, chats, charts, audit_tab, problems = st.tabs(["Browse", "Conversations", "Statistics", "Audit", "Validation"])

with browse:
    cols = st.columns([3, 1, 1])
    search = cols[0].text_input("Search in turns", key="data_search")
    role = cols[1].selectbox("Role", [None, "system", "user", "assistant"], key="data_role",
                             format_func=lambda r: "any" if r is None else r)
    size = cols[2].selectbox("Rows per page", [25, 50, 100], key="data_page_size")
    filter_cols = st.columns(len(table.FILTER_COLUMNS))
    filters = {c: filter_cols[i].multiselect(c, table.choices(path, c), key=f"data_filter_{c}")
               for i, c in enumerate(table.FILTER_COLUMNS)}
    number = st.number_input("Page", min_value=1, value=1, step=1, key="data_page")
    found = table.page(path, table.Query(search, role, filters), int(number), int(size))
    st.write(f"**{found.total:,}** rows match · page {found.number} of {found.pages}")
    st.dataframe(table.readable(found.rows).to_pandas(), hide_index=True, key="data_table")

with chats:
    for row in found.rows.iter_rows(named=True):
        with st.expander(diffs.escape(f"{row['id']} · {row.get('label') or ''} · {row.get('split') or ''}")):
            for role_name, content in table.conversation(row):
                with st.chat_message(role_name if role_name in ("user", "assistant") else "ai"):
                    st.markdown(f"**{diffs.escape(role_name)}**: {diffs.text_markdown(content)}")

with charts:
    described = stats.describe(path)
    figures = described["summary"]
    metric_cols = st.columns(len(figures))
    for i, (name, value) in enumerate(figures.items()):
        metric_cols[i].metric(name.replace("_", " "), value)
    st.subheader(f"Turn length per role ({described['token_label']}, doubling bins)")
    st.bar_chart(described["histogram"].to_pandas(), x="tokens", sort=False, stack=False)
    left, right = st.columns(2)
    left.subheader("Intents / labels")
    left.bar_chart(described["labels"].to_pandas(), x="label", y="rows")
    right.subheader("Turns per conversation")
    right.bar_chart(described["turns"].to_pandas(), x="turns", y="conversations")
    left.subheader("Splits")
    left.dataframe(described["splits"].to_pandas(), hide_index=True)
    right.subheader("Origins")
    right.dataframe(described["origins"].to_pandas(), hide_index=True)

with audit_tab:
    st.caption("Is the table representative, and do its answers treat groups alike? Coverage by label, scenario, "
               "language and turns; labels under the share set here; demographic mentions cross-tabulated with the "
               "label and the answer's tone (chi-square, adjusted for the number of tests). Changes nothing; "
               "docs/bias.md explains the word lists and the limits.")
    share = st.number_input("Flag labels under this share of the labelled rows (%)", min_value=0.0, max_value=100.0,
                            value=5.0, step=0.5, key="data_audit_share")
    state = st.session_state.get(keys.DATA_AUDIT) or {}
    if state.get("path") != str(path):
        state = {}
    if st.button("Audit the table", key="data_audit_run", disabled="task" in state):
        state = {"path": str(path), "share": share,
                 "task": tasks.start(lambda ctx, p=path, s=share: audit.audit_table(p, s / 100, ctx=ctx), "auditing the table")}
    if "task" in state and (ended := common.ended_task(state["task"])) is not None:
        state = {"path": state["path"], "share": state["share"], "audit": ended.result} if ended.state == "finished" else {}
    st.session_state[keys.DATA_AUDIT] = state
    if "audit" in state:
        if state["share"] != share:
            st.info(f"Audited with a share of {state['share']}%: audit again to apply {share}%.")
        for block in audit.blocks(state["audit"]):
            if block.table is not None:
                st.dataframe(block.table.to_pandas(), hide_index=True)
            elif block.kind == "warning":
                st.warning(block.text)
            else:
                st.markdown(block.text)

with problems:
    if opened is None:
        st.info("Validation runs when a file is opened; step outputs only hold valid rows "
                "(the load step keeps invalid ones in quarantine.jsonl).")
    else:
        r = opened.report
        st.write(f"{r['rows_read']} records read, {r['rows_valid']} valid, {r['rows_invalid']} quarantined; "
                 f"{r['errors']} errors, {r['warnings']} warnings.")
        st.dataframe(opened.problems().to_pandas(), hide_index=True, key="data_problems")

common.runfile_panel("data")
