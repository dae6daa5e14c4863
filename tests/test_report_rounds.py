"""The report compares rounds (base, round 1, round 2) on the held-out set and on the testers' feedback prompts,
and shows how far the testers agree."""

from __future__ import annotations

import json
import shutil

from workbench.cli import main


def feedback_store_with_corrections(runs, sample_dir):
    """Two testers rate the same three logged answers and correct them (the prompts of the held-out set)."""
    from workbench.feedback.store import FeedbackStore

    store = FeedbackStore(runs / "feedback.sqlite")
    rows = [json.loads(line) for line in (sample_dir / "heldout.jsonl").read_text().splitlines()[:3]]
    for i, row in enumerate(rows):
        exchange = f"ex-{i}"
        prompt = [m for m in row["messages"] if m["role"] != "assistant"]
        store.log_exchange(exchange_id=exchange, tester="ana", model="round1", messages=prompt, answer="no idea",
                           latency=0.1, settings={})
        store.add_feedback(exchange, "ana", "rating", rating=1 + i, scale="1-5")
        store.add_feedback(exchange, "ben", "rating", rating=2 + i, scale="1-5")
        store.add_feedback(exchange, "ana", "correction", text=row["messages"][-1]["content"])
    return store


def test_round_comparison_on_heldout_and_feedback_prompts_with_tester_agreement(tmp_path, tiny_model_dir,
                                                                                  varied_model_dir, sample_dir, capsys):
    from workbench.runtime import store

    runs = store.runs_root()
    feedback_store_with_corrections(runs, sample_dir)
    assert main(["feedback", "export", "--db", str(runs / "feedback.sqlite"), "--out", str(tmp_path / "fb")]) == 0
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("".join((sample_dir / "heldout.jsonl").read_text().splitlines(keepends=True)[3:7]))
    round1 = tmp_path / "round1"
    shutil.copytree(tiny_model_dir, round1)
    models = ["--model", str(tiny_model_dir), "--model", str(round1), "--model", str(varied_model_dir)]
    for name, data in (("rounds-heldout", heldout), ("rounds-feedback", tmp_path / "fb" / "feedback-sft.jsonl")):
        assert main(["evaluate", str(data), *models, "--name", name, "--max-new-tokens", "4", "--metrics", "chrf",
                     "--resamples", "50", "--no-forgetting", "--json"]) == 0
    capsys.readouterr()

    assert main(["report", "rounds-heldout", "--also", "rounds-feedback", "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)
    report = json.loads(open(paths["json"]).read())
    heldout_table, (feedback_table,) = report["runs_table"], report["also"]
    assert len(heldout_table["columns"]) == len(feedback_table["columns"]) == 3  # base, round 1, round 2
    assert feedback_table["runs"] == ["rounds-feedback"] and feedback_table["examples"] == dict.fromkeys(
        feedback_table["columns"], 3)  # the three corrected feedback prompts
    chrf = next(r for r in feedback_table["rows"] if r["metric"] == "chrf")["cells"]
    round1_vs_base, round2_vs_base = (chrf[c]["vs_reference"] for c in feedback_table["columns"][1:])
    assert round1_vs_base["difference"] == 0  # round 1 is a copy of the base: same answers
    assert round2_vs_base["n_paired"] == 3
    testers = report["testers"]
    assert testers["ratings"]["testers"] == ["ana", "ben"] and testers["ratings"]["examples"] == 3
    assert testers["ratings"]["alpha"] is not None
    html = open(paths["html"]).read()
    assert "The same models on other data: rounds-feedback" in html and "agreement (feedback store)" in html
