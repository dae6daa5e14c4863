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


def test_navigation_opens_the_home_page(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state[keys.RUNS_DIR] = str(tmp_path / "runs")
    at.run()
    assert not at.exception and at.title[0].value == "Workbench"
