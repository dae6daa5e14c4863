"""Clean: pick cleaners, set their options, preview diffs on a sample, apply, review the ledger."""

from pathlib import Path

import polars as pl
import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.runtime import store
from workbench.ui_support import cleaning, data, keys, review, tasks
from workbench.ui_support.diffs import diff_markdown, text_markdown
from workbench.ui_support.forms import changed_options

common.require_app()
st.title("Clean")
table_path = common.require_table()
host = common.host()
p = common.pipeline()


def start_chain(key: str, rows: int | None, label: str) -> None:
    """Run the chosen cleaners on ``rows`` sample rows (all: None) as a task the page follows with its progress panel."""
    frame, todo = pl.read_parquet(table_path), dict(chosen)
    st.session_state[key] = tasks.start(lambda ctx: cleaning.try_chain(todo, frame, rows, seed=p.seed, host=host,
                                                                        ctx=ctx), label)


def ended(key: str) -> tuple[list[review.Tried], bool] | None:
    """The tries of the task under ``key`` once it has ended (and whether every cleaner ran); its panel meanwhile."""
    task = common.ended_task(st.session_state.get(key))
    if task is None:
        return None
    st.session_state.pop(key, None)
    if task.state != "finished":
        return None
    tried, failure = task.result
    if failure:
        common.show_error(failure)
    return tried, failure is None


def cleaned(run_dir: Path) -> str:
    counts = cleaning.rows_before_after(run_dir)
    return f"Cleaned: {f'{counts[0]:,} -> {counts[1]:,} rows' if counts else 'no clean step'} (run folder {run_dir})"


def apply(stage: list[dict]) -> None:
    """Run the pipeline with this clean stage; the result becomes the dataset the pages show."""
    p.set_stage("clean", stage)
    common.start_run(p, "augment", cleaned)


names = host.registry.names("cleaner")
current = st.session_state.get(keys.CLEAN_CHOICE)
if current is None:
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
st.session_state[keys.CLEAN_CHOICE] = {n: chosen.get(n, current.get(n, {})) for n in picked}

left, middle, right = st.columns(3)
sample_size = left.number_input("Preview sample (rows)", min_value=1, value=50, key="clean_sample")
max_drop = middle.number_input("Ask before a step drops more than (%)", min_value=0, max_value=100,
                               value=int(cleaning.MAX_DROP_SHARE * 100), step=5, key="clean_max_drop")
if right.button("Preview on sample", key="clean_preview", disabled=not picked or not ready):
    start_chain(keys.CLEAN_PREVIEW_TASK, int(sample_size), "previewing the cleaners on a sample (nothing is written)")
previewed = ended(keys.CLEAN_PREVIEW_TASK)
if previewed is not None:
    st.session_state[keys.CLEAN_PREVIEW] = previewed[0]

for tried in st.session_state.get(keys.CLEAN_PREVIEW) or []:
    counts, changes = tried.counts(), tried.changes()
    share = counts["dropped"] / tried.sample.height if tried.sample.height else 0
    st.subheader(f"{tried.component}: {counts['changed']} changed, {counts['dropped']} dropped "
                 f"of {tried.sample.height}")
    if share > max_drop / 100:
        st.warning(f"{tried.component} drops {share:.0%} of the sample, more than {max_drop}%: check its options.")
    if not changes:
        st.caption("Nothing to change in this sample.")
    texts = {row["id"]: row["before"] for row in tried.rows()}
    for change in changes[:30]:
        with st.container(border=True):
            st.caption(f"{change['id']} · {change['action']} · {change['reason'] or ''}")
            kept = cleaning.kept_duplicate(change["detail"]) if change["action"] == "dropped" else None
            if change["action"] == "changed":
                st.markdown(diff_markdown(change["diff"]))
            elif kept:
                dropped_col, kept_col = st.columns(2)
                dropped_col.markdown(f"**dropped** `{change['id']}`\n\n{text_markdown(change['before'])}")
                kept_col.markdown(f"**kept** `{kept}`\n\n{text_markdown(texts.get(kept, '(not in the sample)'))}")
            else:
                st.markdown(text_markdown(change["before"]))
    if len(changes) > 30:
        st.caption(f"… and {len(changes) - 30} more.")

if st.button("Apply to the dataset", key="clean_apply", disabled=not ready, type="primary"):
    st.session_state[keys.CLEAN_CHECK_STAGE] = [{"kind": "clean", "component": n,
                                      "options": changed_options(host.registry.get("cleaner", n), o)}
                                     for n, o in chosen.items()]
    start_chain(keys.CLEAN_CHECK_TASK, None, "checking how many rows each cleaner drops (nothing is written yet)")
checked = ended(keys.CLEAN_CHECK_TASK)
if checked is not None:
    stage = st.session_state.pop(keys.CLEAN_CHECK_STAGE)
    heavy = cleaning.heavy_drops(checked[0], max_drop / 100)
    if not checked[1]:
        st.session_state.pop(keys.CLEAN_PENDING, None)
    elif heavy:
        st.session_state[keys.CLEAN_PENDING] = {"stage": stage, "heavy": [str(h) for h in heavy]}
    else:
        st.session_state.pop(keys.CLEAN_PENDING, None)
        apply(stage)

pending = st.session_state.get(keys.CLEAN_PENDING)
if pending:
    st.warning("Not applied yet: " + "; ".join(pending["heavy"]) + f", more than {max_drop}%. "
               "A share this large usually means the options are off (near-dedup on whole conversations that share "
               "a system prompt, a strict quality threshold). Apply anyway?", icon=":material/warning:")
    yes, no = st.columns(2)
    if yes.button("Apply anyway", key="clean_confirm"):
        st.session_state.pop(keys.CLEAN_PENDING)
        apply(pending["stage"])
    elif no.button("Do not apply", key="clean_cancel"):
        st.session_state.pop(keys.CLEAN_PENDING)
        st.rerun()

common.follow_run()
run_dir = st.session_state.get(keys.RUN_DIR)
if run_dir and store.step_dirs(Path(run_dir)):
    st.subheader("Ledger: dropped and changed rows")
    ledger = store.run_ledger(Path(run_dir))
    ledger = ledger.filter(pl.col("action").is_in(["dropped", "changed"]) & pl.col("step").str.contains("-clean-"))
    st.dataframe(cleaning.with_kept_rows(ledger).drop("row").to_pandas(), hide_index=True, key="clean_ledger")
    dropped = ledger.filter(pl.col("action") == "dropped")["row_id"].to_list()
    ids = st.multiselect("Restore dropped rows", dropped, key="clean_restore_ids")
    if st.button("Restore selected rows", key="clean_restore", disabled=not ids):
        try:
            p.add_restore(data.restore_rows(Path(run_dir), ids))
        except WorkbenchError as exc:
            common.show_error(exc)
        else:
            n = len(ids)
            common.start_run(p, "augment", lambda _run: f"Restored {n} rows; the run file appends them after cleaning.")

common.runfile_panel("clean")
