"""The HTML report in real headless Chromium: hostile text renders as text, no script runs."""

from __future__ import annotations

import shutil
from html import escape

import pytest

from workbench.report.document import build_document
from workbench.report.render import render_html, render_markdown, write_report

PAYLOADS = ["<script>window.pwned=1;document.title='pwned'</script>",
            "<img src=x onerror=\"window.pwned=2;document.title='pwned'\">",
            "</td></table><svg onload=\"window.pwned=3\">", "| pipe | and **bold**"]
EVIL = " ".join(PAYLOADS)


def hostile_report() -> dict:
    """A report whose every dataset- or model-derived string carries the payloads."""
    comparison = {"base": 10.0, "other": 20.0, "difference": 10.0, "ci_low": 5.0, "ci_high": 15.0, "p_value": 0.01,
                  "method": "x", "higher_is_better": True, "win_tie_loss": {"wins": 3, "ties": 1, "losses": 1}}
    example = {"id": EVIL, "question": EVIL, "reference": EVIL, "base_answer": EVIL, "other_answer": "ok " + EVIL,
               "base_score": 1.0, "other_score": 2.0, "diff": [["=", EVIL], ["-", EVIL], ["+", EVIL]]}
    score = {"score": 0.5, "skipped": None, "signature": EVIL, "details": {}}
    facts = {"score": 0.5, "skipped": None, "details": {"counts": {"correct": 1, EVIL: 1}, "applicable": 2}}
    off_topic = {"score": 0.5, "skipped": None, "details": {"off_topic": 1}}
    behavior = {"score": 0.5, "signature": None, "details": {
        "by_behavior": {EVIL: {"n": 1, "judged": 1, "passed": 1, "pass_rate": 1.0}},
        "decisions": [{"id": EVIL, "behavior": EVIL, "passed": True, "rule": EVIL}]}}
    f1 = {"score": 0.5, "details": {"macro": {"precision": 1, "recall": 1, "f1": 1}, "micro": {"precision": 1, "recall": 1, "f1": 1},
                                    "per_class": {EVIL: {"precision": 1, "recall": 1, "f1": 1, "support": 1}},
                                    "confusion": {"labels": [EVIL], "matrix": [[1]]}}}
    probes = [{"id": EVIL, "kind": "knowledge", "prompt": EVIL, "answer": EVIL, "passed": False, "why": EVIL}]
    results = {
        "base": "base", "models": {"base": EVIL, "tuned": EVIL}, "n_examples": 1, "decode": {"max_new_tokens": 8},
        "seed": 0, "bootstrap_resamples": 10, "ar_trials": 10, "primary_metric": "chrf",
        "generation": {"base": {"generated": 1, "cached": 0}, "tuned": {"generated": 1, "cached": 0}},
        "scores": {m: {"chrf": score, "behavior": behavior, "f1": f1, "facts": facts, "off_topic": off_topic}
                   for m in ("base", "tuned")},
        "comparisons": {"tuned": {"chrf": comparison, EVIL: comparison, "facts": comparison}},
        "fluent_but_wrong": {"tuned": {"metric": "chrf", "total": 1, "rows": [
            {"id": EVIL, "question": EVIL, "reference": EVIL, "answer": "x " + EVIL, "score": 90.0,
             "facts_verdict": "contradicted", "off_topic": True, "problem": EVIL,
             "answer_marked": [["x ", False], [EVIL, True]]}]}},
        "slices": {"tuned": {"label": [{"value": EVIL, "n": 1, "base": 1.0, "other": 2.0, "difference": 1.0,
                                        "wins": 1, "ties": 0, "losses": 0}]}},
        "top_examples": {"tuned": {"metric": "chrf", "wins": [example], "regressions": [example]}},
        "samples": [{"id": EVIL, "question": EVIL, "reference": EVIL, "answers": {"base": EVIL, "tuned": EVIL}}],
        "forgetting": {"base": "base", "max_drop": 0.1, "models": {
            "base": {"pass_rate": {"all": 1.0}, "lost": [], "gained": [], "flagged": False, "probes": probes},
            "tuned": {"pass_rate": {"all": 0.0}, "lost": [EVIL], "gained": [], "flagged": True, "probes": probes}}},
    }
    step = {"index": 1, "name": EVIL, "kind": "clean", "component": EVIL, "component_version": "1", "plugin": EVIL,
            "plugin_version": None, "rows_in": 2, "rows_out": 1, "added": 0, "dropped": 1, "changed": 0, "rejected": 0,
            "dropped_by_reason": {EVIL: 1}, "seconds": 0.1, "options": {}}
    lineage = {"run": "r", "state": "finished", "seed": 0, "cleaners": [EVIL], "augmenters": [], "scenario_generators": [],
               "training": {"component": EVIL, "options": {EVIL: EVIL}, "stats": {}, "artifacts": {}}, "steps": [step]}
    return {"title": EVIL, "generated": "now", "run": EVIL, "results": results, "lineage": lineage,
            "votes": {"tally": {"base": 1, "tuned": 2, "tie": 0}, "n": 3}, "against": None}


def test_html_escapes_every_payload():
    html = render_html(build_document(hostile_report()), EVIL)
    assert "<script" not in html and "<img" not in html and "onload=\"window" not in html
    assert html.count("&lt;script&gt;") >= 10


def test_markdown_escapes_html_and_pipes():
    md = render_markdown(build_document(hostile_report()))
    assert "<script" not in md and "<img" not in md
    assert "\\| pipe \\|" in md


def test_markdown_keeps_arrows_readable_and_escapes_what_a_renderer_would_read():
    from workbench.report.render import md_text

    assert md_text("base 1% -> tuned 9%") == "base 1% -> tuned 9%"
    assert md_text("> quoted") == "\\> quoted"  # not a block quote
    assert md_text("a <b> & c") == "a &lt;b> &amp; c"


def test_report_leads_with_correctness_and_lists_fluent_but_wrong_answers():
    sections = build_document(hostile_report())
    titles = [s.title for s in sections]
    assert titles[1] == "Ship verdict" and titles[2] == "Fluent but wrong: tuned"
    html = render_html(sections, "t")
    md = render_markdown(sections)
    for text in (html, md):
        assert "Not ready to ship: answers with every fact right: " + ("base 50% -&gt; tuned 50%" if text is html else "base 50% -> tuned 50%") in text
        assert text.index("Not ready to ship") < text.index("similarity and other metrics") < text.index("Ship verdict")
    assert "<mark>" + escape(PAYLOADS[0]) in html  # the offending fact, marked and escaped
    assert "**" + PAYLOADS[0].replace("<", "&lt;") in md


def test_written_formats(tmp_path):
    paths = write_report(hostile_report(), tmp_path)
    assert sorted(paths) == ["html", "json", "md"] and all(p.stat().st_size for p in paths.values())
    with pytest.raises(ValueError):
        write_report(hostile_report(), tmp_path, ["pdf"])


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --browser)")
    return path


def test_report_renders_in_headless_chromium_without_running_scripts(tmp_path):
    from playwright.sync_api import sync_playwright

    paths = write_report(hostile_report(), tmp_path, ["html"])
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: errors.append(f"network request {r.url}") if not r.url.startswith("file:") else None)
        page.goto(paths["html"].as_uri())
        page.wait_for_timeout(300)
        assert page.evaluate("window.pwned") is None
        assert page.title() == EVIL  # the payload is the title's text, not markup that changed it
        text = page.inner_text("body")
        assert PAYLOADS[0] in text and PAYLOADS[1] in text
        assert page.locator("script").count() == 0 and page.locator("img").count() == 0
        assert page.locator("svg").count() >= 2  # the inline charts
        browser.close()
    assert errors == []
