"""End to end in a real headless Chromium: upload, clean, augment, train a tiny model, open the comparison.

Needs Debian's chromium (``scripts/setup.sh --browser``); screenshots go to
``test-artifacts/`` and must not be blank.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (scripts/setup.sh --browser)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_app(port: int, env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                 "--server.port", str(port), "--server.address", "127.0.0.1",
                                 "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _healthy(proc: subprocess.Popen, url: str, seconds: float) -> bool:
    """Wait for the server's health check; False as soon as the server exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=5)
            return True
        except OSError:
            time.sleep(0.5)
    return False


@pytest.fixture
def app_url(tmp_path):
    env = {**os.environ, "WORKBENCH_RUNS": str(tmp_path / "runs")}
    log = tmp_path / "streamlit.log"
    # the free port is closed again before Streamlit binds it, so another process may take it in between:
    # a server that exits at once is started again on a new port
    for _attempt in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _start_app(port, env, log)
        if _healthy(proc, url, 120):
            break
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            pytest.fail(f"Streamlit did not answer its health check within 120 s:\n{log.read_text()[-3000:]}")
    else:
        pytest.fail(f"Streamlit exited at start three times:\n{log.read_text()[-3000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def _shot(page, name: str) -> None:
    from PIL import Image, ImageStat

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    spread = ImageStat.Stat(Image.open(path).convert("L")).stddev[0]
    assert spread > 5, f"screenshot {path} looks blank (pixel std {spread:.1f})"


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit multiselect labelled ``label``."""
    box = page.get_by_label(label)
    box.click()
    box.fill(option)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")


def _go(page, title: str) -> None:
    page.get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=30_000)


def test_upload_clean_augment_train_compare(app_url, tmp_path, tiny_model_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(app_url)
        page.get_by_role("heading", name="Data").wait_for()
        page.locator("input[type=file]").set_input_files(str(ROOT / "sample_data" / "support.jsonl"))
        page.get_by_text("rows match").wait_for()
        _shot(page, "1-data")

        _go(page, "Clean")
        _pick(page, "Cleaners, applied in this order", "whitespace")
        page.get_by_role("button", name="Apply to the dataset").click()
        page.get_by_text("Cleaned:").wait_for(timeout=120_000)
        _shot(page, "2-clean")

        _go(page, "Augment and scenarios")
        _pick(page, "Augmenters", "typos")
        page.get_by_role("button", name="Generate for review").click()
        page.get_by_role("button", name="Accept all").click(timeout=180_000)
        page.get_by_role("button", name="Save curated dataset").click()
        page.get_by_text("Saved the curated dataset").wait_for(timeout=120_000)
        _shot(page, "3-augment")

        _go(page, "Train")
        model = page.get_by_label("model", exact=True)
        model.fill(str(tiny_model_dir))
        model.press("Enter")
        steps = page.get_by_label("max steps", exact=True)
        steps.fill("2")
        steps.press("Enter")
        page.get_by_role("button", name="Start training in the background").click()
        page.get_by_text("Training finished").wait_for(timeout=240_000)
        _shot(page, "4-train")
        trained = list((tmp_path / "runs").glob("*/steps/*-train-hf-causal-lm/manifest.json"))
        assert trained, "the background run did not finish a training step"

        _go(page, "Runs")
        page.get_by_text("Compare two runs").wait_for()
        _shot(page, "5-runs-compare")
        _go(page, "Evaluate and compare")
        page.get_by_text("Compare with another run").or_(page.get_by_text("has no evaluation yet")).first.wait_for()
        _shot(page, "6-evaluate")
        browser.close()
