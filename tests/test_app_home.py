"""AppTest of the app shell: the home page, the header on every page, the session kept across reloads,
and the warning when other hosts can reach the app."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest
from test_app_common import open_page

from workbench.ui_support import keys, review

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture(autouse=True)
def _root(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.chdir(ROOT)


def _app(tmp_path: Path, session: str | None = None) -> AppTest:
    """The whole app as a browser opens it (a reload is a new AppTest with the same ?session=)."""
    at = AppTest.from_file(APP, default_timeout=120)
    if session:
        at.query_params["session"] = session
    return at


def test_home_shows_the_flow_and_points_to_the_data_page_first(tmp_path):
    at = _app(tmp_path).run()
    assert not at.exception and at.title[0].value == "Workbench"
    assert "No dataset open yet" in at.caption[0].value
    labels = [link.label for link in at.get("page_link")]
    assert labels[:5] == ["Data", "Clean", "Augment", "Train", "Evaluate"]
    assert labels[-1] == "Data: open or upload a dataset"  # the next step


def test_reload_keeps_dataset_choices_and_review_decisions(tmp_path, sample_dir):
    seeded, opened = open_page("clean", tmp_path, sample_dir, "persist")  # the state a user built on the pages
    frame = pl.read_parquet(opened.table_path)
    tried = review.try_component("augmenter", "typos", {}, frame, 4, seed=1)
    candidates = review.candidates([tried])
    ids = candidates["id"].to_list()
    decisions = {ids[0]: "accept", ids[1]: "reject", ids[2]: {"reference": "An edited answer."}}
    at = _app(tmp_path)
    for key in (keys.TABLE_PATH, keys.PIPELINE):
        at.session_state[key] = seeded.session_state[key]
    at.session_state[keys.VALIDATION] = opened
    at.session_state[keys.CLEAN_CHOICE] = {"whitespace": {}, "near-dedup": {"threshold": 0.8}}
    at.session_state[keys.PREVIEW], at.session_state[keys.CANDIDATES] = [tried], candidates
    at.session_state[keys.DECISIONS] = decisions
    at.run()
    assert not at.exception
    session = at.query_params["session"]
    assert (Path(tmp_path / "runs") / ".sessions" / session / "state.json").exists()

    reloaded = _app(tmp_path, session).run()  # a fresh session state, the same URL
    assert not reloaded.exception
    state = reloaded.session_state
    assert state[keys.TABLE_PATH] == str(opened.table_path) and state[keys.PIPELINE].name == "persist"
    assert state[keys.CLEAN_CHOICE] == {"whitespace": {}, "near-dedup": {"threshold": 0.8}}
    assert state[keys.DECISIONS] == decisions and state[keys.CANDIDATES].equals(candidates)
    assert state[keys.PREVIEW][0].table.equals(tried.table)
    assert state[f"aug_decision_{ids[2]}"] == "accept" and state[f"aug_reference_{ids[2]}"] == "An edited answer."
    assert "Dataset **support.jsonl**: 368 rows, 5 quarantined" in reloaded.caption[0].value

    # the Augment page with the reloaded state (AppTest switches pages outside app.py's navigation)
    augment = AppTest.from_file(str(ROOT / "pages" / "augment_scenarios.py"), default_timeout=120)
    for key in state:
        if key.startswith(("wb_", "aug_")) and key not in (keys.SESSION_ID, keys.SESSION_MEMO):
            augment.session_state[key] = state[key]
    augment.run()
    assert not augment.exception
    assert augment.radio(key=f"aug_decision_{ids[1]}").value == "reject"
    assert augment.session_state[keys.DECISIONS] == decisions, "the page's radios keep the restored decisions"

    other = _app(tmp_path).run()  # another browser: a session of its own
    assert other.query_params["session"] != session and keys.TABLE_PATH not in other.session_state


def test_a_malformed_session_id_starts_a_new_session(tmp_path):
    at = _app(tmp_path, "../../etc").run()
    assert not at.exception and "could not be restored" in at.error[0].value
    assert at.query_params["session"] != "../../etc"


@pytest.mark.parametrize("address, warned", [("0.0.0.0", True), ("127.0.0.1", False)])
def test_a_warning_when_other_hosts_can_connect(tmp_path, address, warned):
    before = config.get_option("server.address")
    config.set_option("server.address", address)
    try:
        at = _app(tmp_path).run()
    finally:
        config.set_option("server.address", before)
    assert not at.exception
    assert any("other computers can reach it" in w.value for w in at.warning) == warned


def test_the_shipped_streamlit_config_binds_loopback():
    import tomllib

    from workbench.ui_support import exposure

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert exposure.is_loopback(settings["server"]["address"])


def test_a_page_opened_outside_the_apps_navigation_goes_through_the_app(tmp_path):
    """AppTest runs a switched-to page the way a fresh server runs a page's own URL (Streamlit's pages/ folder
    mode, without app.py): the page hands over to app.py, which shows its header and keeps the session."""
    at = _app(tmp_path).run()
    session = at.query_params["session"]
    at.switch_page("pages/data.py").run()
    assert not at.exception and at.title[0].value == "Workbench"
    assert at.query_params["session"] == session and "No dataset open yet" in at.caption[0].value
