"""Shared AppTest set-up for the page tests, and the navigation shell (app.py) itself."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from workbench.ui_support import data, keys
from workbench.ui_support.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent


def open_page(page: str, tmp_path: Path, sample_dir: Path, name: str, timeout: float = 180):
    """An AppTest of ``pages/<page>.py`` with the sample data opened and a pipeline that loads it."""
    runs = tmp_path / "runs"
    opened = data.open_file(sample_dir / "support.jsonl", runs)
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=timeout)
    at.session_state[keys.RUNS_DIR] = str(runs)
    at.session_state[keys.TABLE_PATH] = str(opened.table_path)
    at.session_state[keys.PIPELINE] = Pipeline(name=name, steps=[
        {"kind": "load", "options": {"path": str(opened.source)}}])
    return at, opened


def click_and_settle(at, button: str, timeout: float = 300) -> None:
    """Click a button whose work runs as a task (preview, check, pipeline run); while a task it started is not
    picked up by the page, wait for it to end and draw the page again, as its progress panel does (a finished
    check may start the pipeline run, which is waited for in turn)."""
    import time

    from workbench.ui_support import tasks

    earlier = set(tasks.open_tasks())
    at.button(key=button).click().run()
    deadline = time.monotonic() + timeout
    while new := [t for i, t in tasks.open_tasks().items() if i not in earlier]:
        assert time.monotonic() < deadline, f"the work behind {button} did not finish"
        if any(t.running for t in new):
            time.sleep(0.1)
        else:
            at.run()


def test_navigation_opens_the_home_page(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(tmp_path / "runs")
    at.run()
    assert not at.exception and at.title[0].value == "Workbench"
