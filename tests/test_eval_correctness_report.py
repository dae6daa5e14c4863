"""End to end: a run's report leads with the facts headline and lists fluent-but-wrong answers, escaped.

Saved answers stand in for two models (the tuned one copies the house style with wrong numbers, as a
LoRA-tuned model did on a new support domain), so the test is fast and its outcome certain; the path is
the real one: load -> evaluate (facts metric, McNemar) -> report.
"""

from __future__ import annotations

import json

from workbench.runtime import store
from workbench.runtime.engine import execute
from workbench.runtime.runfile import parse_runfile

PAYLOAD = "<script>window.pwned=1</script>"
STYLE = "Thanks for contacting Northwind! "


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_report_leads_with_facts_and_lists_fluent_but_wrong_answers(tmp_path):
    rows, base, tuned = [], [], []
    for i in range(12):
        days = 3 + i % 4
        reference = f"{STYLE}Your refund for order NW-{1000 + i} arrives in {days} to {days + 2} business days."
        rows.append({"id": f"q{i}", "split": "test", "messages": [
            {"role": "user", "content": f"Where is the refund for NW-{1000 + i}? {PAYLOAD}"},
            {"role": "assistant", "content": reference}]})
        base.append({"id": f"q{i}", "answer": "I am not sure, please contact the shop."})
        wrong = i < 9  # fluent, same shape, wrong duration
        tuned.append({"id": f"q{i}", "answer": f"{STYLE}Your refund for order NW-{1000 + i} arrives in "
                                               f"{days + 20 if wrong else days} to {days + 22 if wrong else days + 2} "
                                               f"business days. {PAYLOAD if i == 0 else ''}".strip()})
    data = write(tmp_path / "heldout.jsonl", rows)
    write(tmp_path / "base.jsonl", base)
    write(tmp_path / "tuned.jsonl", tuned)
    outcome = execute(parse_runfile({"run": {"name": "facts-e2e", "seed": 3}, "steps": [
        {"kind": "load", "options": {"path": str(data)}},
        {"kind": "evaluate", "options": {"base_model": f"answers:{tmp_path / 'base.jsonl'}",
                                         "answers": {"tuned": str(tmp_path / "tuned.jsonl")},
                                         "metrics": ["chrf", "facts"], "forgetting_probe": False,
                                         "bootstrap_resamples": 50, "ar_trials": 50}},
        {"kind": "report"}]}, base_dir=tmp_path), runs_dir=tmp_path / "runs")

    results = store.read_json(outcome.steps[1].folder / "results.json")
    assert results["scores"]["tuned"]["facts"]["score"] == 3 / 12 and results["scores"]["base"]["facts"]["score"] == 0
    assert results["comparisons"]["tuned"]["chrf"]["p_value"] < 0.05  # similarity says "significantly better"
    wrong = results["fluent_but_wrong"]["tuned"]
    assert wrong["total"] == 9 and all(r["facts_verdict"] == "contradicted" for r in wrong["rows"])
    scores = [r["score"] for r in wrong["rows"]]
    assert scores == sorted(scores, reverse=True)

    folder = outcome.steps[2].folder
    html, md = (folder / "report.html").read_text(), (folder / "report.md").read_text()
    for text in (html, md):
        assert "Not ready to ship: answers with every fact right: " + ("base 0% -&gt; tuned 25%" if text is html else "base 0% -> tuned 25%") in text
        assert "Fluent but wrong: tuned" in text
        assert text.index("Not ready to ship") < text.index("similarity and other metrics")
    assert "<script>window.pwned" not in html and "<script>window.pwned" not in md
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert html.count("<mark>23 to 25 business days</mark>") == 3  # the wrong range, in the 3 answers where it appears
    assert "instead of duration:business_day" in html
