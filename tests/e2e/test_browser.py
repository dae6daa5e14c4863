"""End to end in a real headless Chromium, as a support lead drives the app: home, upload, clean (the drop
warning), augment, train a tiny model (pre-flight progress), evaluate (ship verdict, a blind review of three
examples without model names), a reload that keeps the dataset and the votes, and two runs compared; and, as a
tester drives it, the Playground (two models streamed side by side, rating, correction, preference stored).

Needs Debian's chromium (``scripts/setup.sh --browser``); screenshots go to
``test-artifacts/`` and must not be blank.
"""

from __future__ import annotations

import os
import re
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
                                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"], cwd=ROOT, env=env,
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


def _open_home(pw, app_url: str):
    """A headless Chromium showing the app's home page: (browser, page)."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.get_by_role("heading", name="Workbench", exact=True).wait_for()
    return browser, page


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
    page.get_by_role("option").filter(has_text=f"{option} —").first.click()  # not a fuzzy match's first hit
    page.keyboard.press("Escape")
    _settled(page)


def _go(page, title: str) -> None:
    page.get_by_role("link", name=title).first.click()
    page.get_by_role("heading", name=title, exact=True, level=1).wait_for(timeout=30_000)


def _choose(page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label`` (it filters as you type)."""
    box = page.get_by_label(label, exact=True)
    box.click()
    box.fill(option)
    page.keyboard.press("Enter")


def _settled(page) -> None:
    """Wait until the rerun a widget change started has finished (so the next click sees the new value)."""
    page.wait_for_timeout(500)
    page.locator('[data-test-script-state="notRunning"]').first.wait_for(timeout=120_000)


def _number(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    _settled(page)


def _evaluate_cli(runs: Path, base: Path, tuned: Path) -> None:
    """An evaluation of the trained tiny model against its untrained base on three examples (the CLI's run)."""
    cmd = [sys.executable, "-m", "workbench", "evaluate", str(ROOT / "sample_data" / "support.jsonl"),
           "--model", str(base), "--model", str(tuned), "--max-examples", "3", "--max-new-tokens", "8",
           "--no-forgetting", "--metrics", "chrf,facts,answer_length", "--name", "e2e-eval", "--runs-dir", str(runs)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def test_home_to_runs_compare(app_url, tmp_path, tiny_model_dir):
    from playwright.sync_api import sync_playwright

    runs = tmp_path / "runs"
    with sync_playwright() as pw:
        browser, page = _open_home(pw, app_url)
        page.get_by_text("The flow").wait_for()
        _shot(page, "0-home")

        _go(page, "Data")
        page.locator("input[type=file]").set_input_files(str(ROOT / "sample_data" / "support.jsonl"))
        page.get_by_text("rows match").wait_for()
        _shot(page, "1-data")

        _go(page, "Clean")
        _pick(page, "Cleaners, applied in this order", "near-dedup")
        _number(page, "Ask before a step drops more than (%)", "0")
        page.get_by_role("button", name="Apply to the dataset").click()
        page.get_by_text("Not applied yet").wait_for(timeout=120_000)  # near-dedup drops some rows: asked first
        _shot(page, "2-clean-drop-warning")
        page.get_by_role("button", name="Apply anyway").click()
        page.get_by_text("Cleaned:").wait_for(timeout=120_000)

        _go(page, "Augment and scenarios")
        _pick(page, "Augmenters", "typos")
        page.get_by_role("button", name="Generate for review").click()
        page.get_by_role("button", name="Accept all").click(timeout=420_000)  # under load: minutes
        page.get_by_role("button", name="Save curated dataset").click()
        page.get_by_text("Saved the curated dataset").wait_for(timeout=120_000)
        _shot(page, "3-augment")

        _go(page, "Train")
        model = page.get_by_label("model", exact=True)
        model.fill(str(tiny_model_dir))
        model.press("Enter")
        _number(page, "max steps", "2")
        page.get_by_role("button", name="Pre-flight estimate").click()
        page.get_by_text("elapsed").first.wait_for(timeout=180_000)  # the progress panel of the pre-flight
        _shot(page, "4-train-preflight-progress")
        page.get_by_text("optimiser steps").first.wait_for(timeout=420_000)  # cold torch imports under load
        _shot(page, "4-train-preflight-figures")
        page.get_by_role("button", name="Start training in the background").click()
        page.get_by_text("Training finished").wait_for(timeout=240_000)
        _shot(page, "5-train")
        trained = sorted(runs.glob("*/steps/*-train-hf-causal-lm/model"))
        assert trained, "the background run did not finish a training step"
        _evaluate_cli(runs, tiny_model_dir, trained[-1])

        _go(page, "Evaluate and compare")
        _choose(page, "Run", "e2e-eval")
        page.get_by_text("Ship verdict for").wait_for(timeout=60_000)
        page.get_by_text("threshold:").first.wait_for()
        _shot(page, "6-evaluate-verdict")

        page.get_by_text("Blind review", exact=True).click()
        voter = page.get_by_label("Your name (each voter's progress is kept with the run)")
        voter.fill("ana")
        voter.press("Enter")
        for judged in range(3):
            page.get_by_text(f"ana: {judged} of 3 examples judged").wait_for()
            example = page.locator(".st-key-eval_blind_example")
            example.get_by_text("Answer B").wait_for()
            shown = example.inner_text()
            assert "Answer A" in shown and "Answer B" in shown
            assert not {"base", "tuned", "model", "votes"} & set(shown.lower().replace(":", " ").split()), shown
            if judged == 0:
                _shot(page, "7-blind-review")
            page.get_by_role("button", name="A is better" if judged % 2 else "B is better").click()
        page.get_by_text("you have judged all 3 examples").wait_for()
        page.get_by_text("Your votes with the models revealed").wait_for()  # the page has finished drawing
        _shot(page, "8-blind-review-done")

        page.reload()  # the session (?session=) and the voter (?voter=) are in the URL
        page.get_by_role("heading", name="Evaluate and compare", exact=True).wait_for()
        page.get_by_text(re.compile(r"^Dataset .+: [0-9,]+ rows")).first.wait_for()  # the header still names the dataset
        page.get_by_text("Blind review", exact=True).click()
        page.get_by_text("you have judged all 3 examples").wait_for()  # the votes survived the reload
        _go(page, "Data")
        page.get_by_text("rows match").wait_for()  # and so did the dataset
        _shot(page, "9-after-reload")

        _go(page, "Runs")
        page.get_by_text("Settings that differ").wait_for()
        _choose(page, "Run A", "e2e-eval")
        _choose(page, "Run B", trained[-1].parents[2].name)
        # the settings diff: the evaluation run has no train step, the training run no evaluate step (the table is
        # drawn on a canvas; its cells are in the page for screen readers, hidden)
        page.get_by_text("(the whole step)").first.wait_for(state="attached")
        _shot(page, "10-runs-compare")
        browser.close()


def test_playground_streams_and_stores_feedback(app_url, tmp_path, varied_model_dir):
    """Two models side by side: the answers stream in (the page shows them growing), then a rating, a
    correction and a preference land in the project's feedback store with the tester's name."""
    from playwright.sync_api import sync_playwright

    from workbench.feedback.store import FeedbackStore

    with sync_playwright() as pw:
        browser, page = _open_home(pw, app_url)
        _go(page, "Playground")
        extra = page.get_by_label("Other model folders (optional, comma-separated)", exact=True)
        extra.fill(f"a={varied_model_dir}, b={varied_model_dir}")  # greedy answers with words (see conftest)
        extra.press("Enter")
        _settled(page)
        models = page.locator(".st-key-pg_models")
        models.get_by_label("Clear all").click()  # not the embedded SmolLM2 picked by default
        _settled(page)
        for name in ("a", "b"):
            models.get_by_role("combobox").click()
            page.get_by_role("option", name=name, exact=True).click()
            page.keyboard.press("Escape")
            _settled(page)
        longest = page.locator(".st-key-pg_max_tokens").get_by_role("slider")
        longest.focus()
        longest.press("End")  # 512 tokens: long enough to watch it arrive
        _settled(page)
        tester = page.get_by_label("Your name (tester)", exact=True)
        tester.fill("ana")
        tester.press("Enter")
        _settled(page)

        # the text of model a's answer, recorded at every change of the page
        page.evaluate("""() => {
            window.seen = [];
            new MutationObserver(() => {
                const answer = [...document.querySelectorAll('[data-testid="stChatMessage"]')]
                    .find(m => m.querySelector('[data-testid="stChatMessageAvatarAssistant"]'));
                if (answer) window.seen.push(answer.innerText.trim());
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }""")
        prompt = page.get_by_placeholder("Ask something")
        prompt.fill("Where is my order 1234?")
        prompt.press("Enter")
        page.get_by_text("Feedback on the last answers").wait_for(timeout=300_000)
        _settled(page)
        lengths = sorted({len(text) for text in page.evaluate("window.seen") if text})
        assert len(lengths) >= 3, f"the answer did not grow in steps: shown lengths {lengths}"
        _shot(page, "11-playground-streamed")

        page.locator(".st-key-pg_up_a").get_by_role("button").click()
        page.get_by_text("Saved: rating").wait_for()
        _settled(page)
        page.locator(".st-key-pg_fix_a textarea").fill("Order 1234 ships tomorrow.")
        page.locator(".st-key-pg_save_a").get_by_role("button").click()
        page.get_by_text("Saved: rating, correction").wait_for()
        _settled(page)
        page.locator(".st-key-pg_better").get_by_text("b", exact=True).click()
        _settled(page)
        page.locator(".st-key-pg_prefer").get_by_role("button").click()
        page.get_by_text("Saved: b preferred over a").wait_for()
        _shot(page, "12-playground-feedback")
        browser.close()

    store = FeedbackStore(tmp_path / "runs" / "feedback.sqlite")
    exchanges = {e["model"]: e for e in store.exchanges()}
    assert set(exchanges) == {"a", "b"} and all(e["tester"] == "ana" and e["answer"] for e in exchanges.values())
    got = sorted((f["kind"], f["exchange_id"], f["tester"], f["rating"], f["text"], f["other_id"])
                 for f in store.feedback())
    a, b = exchanges["a"]["id"], exchanges["b"]["id"]
    assert got == sorted([("rating", a, "ana", 1, None, None), ("rating", a, "ana", 3, None, None),
                          ("correction", a, "ana", None, "Order 1234 ships tomorrow.", None),
                          ("preference", b, "ana", None, None, a)])
