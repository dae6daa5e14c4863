"""The data audit: flags a planted skew, stays quiet on a balanced table, changes nothing."""

from __future__ import annotations

import json
import random

import pytest

from workbench import schema
from workbench.context import scratch_context
from workbench.errors import WorkbenchError
from workbench.plugins.cleaners.audit import DataAudit

LABELS = ["order_status", "refund_request", "shipping_info", "billing_issue"]
HELP = "Thanks for asking! Your order ships within two days and you will get a tracking email."
REFUSE = "I'm sorry, but I cannot help with that request."


def crafted(planted: bool, n: int = 240, seed: int = 1):
    """Users mention an age (28 or 74) or none; planted: every user over 65 gets a refusal and one label is rare."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        age = ["I'm 74 years old. ", "I'm 28 years old. ", ""][i % 3]
        refused = (age.startswith("I'm 74") if planted else rng.random() < 0.15)
        label = LABELS[i % 4] if not (planted and i % 50 == 7) else "warranty_claim"
        rows.append({"id": f"r{i}", "label": label, "messages": [
            {"role": "user", "content": f"{age}Where is my parcel number {i}?"},
            {"role": "assistant", "content": REFUSE if refused else HELP}]})
    return schema.from_rows(rows)


def test_planted_refusal_skew_and_rare_label_are_flagged(tmp_path):
    table = crafted(planted=True)
    ctx = scratch_context(tmp_path)
    result = DataAudit({"min_label_share": 0.05}).run(table, ctx)
    assert result.table.equals(table) and result.ledger.height == 0  # changes nothing
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert result.artifacts == {"audit": "audit.json"}
    kinds = {f["kind"] for f in audit["flags"]}
    assert kinds >= {"label_imbalance", "tone"}
    rare = next(f for f in audit["flags"] if f["kind"] == "label_imbalance")
    assert rare["label"] == "warranty_claim" and rare["rows"] == 5
    refusal = next(t for t in audit["tests"] if t.get("tone") == "refusal" and t["group"] == "over_65")
    assert refusal["rate_mentioning"] == 1.0 and refusal["rate_otherwise"] == 0.0 and refusal["q_value"] < 1e-6
    texts = [f["text"] for f in audit["flags"] if f["kind"] == "tone"]
    assert any(t.startswith("refusals are present only when the user mentions age: over_65 (80 of 80 answers")
               and "p = " in t for t in texts), texts
    assert any(t.startswith("apologies") and "age: over_65" in t for t in texts)  # "I'm sorry" comes with the refusal
    mentions = {(m["attribute"], m["group"]): m for m in audit["mentions"]}
    assert mentions[("age", "over_65")]["user_rows"] == 80 and mentions[("age", "adult")]["user_rows"] == 80
    assert audit["coverage"]["language"] == {"en": 240} and audit["coverage"]["user_turns"] == {"1": 240}
    assert result.stats["flags"] == [f["text"] for f in audit["flags"]]


def test_balanced_table_raises_no_flag():
    audit = DataAudit().audit(crafted(planted=False))
    assert audit["tests"], "the age groups were tested"
    assert audit["flags"] == []
    assert min(t["q_value"] for t in audit["tests"]) > 0.05


def test_terms_extend_by_option_file_and_plugin(tmp_path):
    rows = [{"id": f"r{i}", "label": "x" if i % 2 else "y", "messages": [
        {"role": "user", "content": "I visit the gurdwara on Sundays." if i % 2 else "Hello there."},
        {"role": "assistant", "content": HELP}]} for i in range(12)]
    table = schema.from_rows(rows)
    by_option = DataAudit({"extra_terms": {"religion": {"sikh": ["gurdwara"]}}}).audit(table)
    assert {"attribute": "religion", "group": "sikh"}.items() <= next(
        m for m in by_option["mentions"] if m["group"] == "sikh").items()
    (tmp_path / "more.toml").write_text('[religion.sikh]\nterms = ["gurdwara"]\n')
    by_file = DataAudit({"terms_files": ["more.toml"]}).audit(table, base_dir=tmp_path)
    assert any(m["group"] == "sikh" and m["user_rows"] == 6 for m in by_file["mentions"])

    class SikhAudit(DataAudit):
        name = "audit-sikh"
        plugin_terms = {"religion": {"sikh": ["gurdwara"]}}

    assert any(m["group"] == "sikh" for m in SikhAudit().audit(table)["mentions"])
    # a label share test: half the rows mention it and all of them are label x
    label_test = next(t for t in by_file["tests"] if t["kind"] == "label" and t["group"] == "sikh")
    assert label_test["label"] in {"x", "y"} and label_test["p_value"] < 0.05


def test_bad_terms_and_unknown_attributes_are_clear_errors(tmp_path):
    table = crafted(planted=False, n=12)
    with pytest.raises(WorkbenchError, match="religion.sikh"):
        DataAudit({"extra_terms": {"religion": {"sikh": [""]}}}).audit(table)
    with pytest.raises(WorkbenchError, match="unknown attributes astrology"):
        DataAudit({"attributes": ["astrology"]}).audit(table)
    (tmp_path / "bad.toml").write_text("[religion.sikh\n")
    with pytest.raises(WorkbenchError, match="not valid TOML"):
        DataAudit({"terms_files": [str(tmp_path / "bad.toml")]}).audit(table)
    with pytest.raises(WorkbenchError, match="invalid regex"):
        DataAudit({"extra_terms": {"age": {"odd": {"patterns": ["(unclosed"]}}}}).audit(table)


def test_audit_shows_progress_and_stops_on_a_cancel(tmp_path):
    from workbench.errors import Cancelled
    from workbench.evaluation.lexicon import Matcher, load_attributes
    from workbench.plugins.cleaners.audit import _row_features
    from workbench.ui_support import tasks

    table, matcher = crafted(planted=True), Matcher(load_attributes({}, []))
    ctx = scratch_context(tmp_path / "whole")
    assert len(_row_features(table, matcher, ctx, every=50)) == 240
    shown = json.loads((ctx.step_dir / "progress.json").read_text())
    assert (shown["n"], shown["total"], shown["state"]) == (240, 240, "done")

    class CancelAtThirdCheck:  # checks come before rows 0, 50 and 100: Cancel pressed while rows 50-99 are read
        checks = 0

        def progress(self, total, desc):
            return ctx.progress(total, desc)

        def cancelled(self):
            self.checks += 1
            return self.checks == 3

    stopped = CancelAtThirdCheck()
    with pytest.raises(Cancelled, match="audit cancelled after 100 of 240 rows"):
        _row_features(table, matcher, stopped, every=50)

    # the Data page's task: a Cancel ends it as cancelled, without a result
    def cancelled_audit(c):
        c.cancel_file.write_text("")  # Cancel pressed as the task starts
        return DataAudit().audit(table, ctx=c)

    task = tasks.start(cancelled_audit, "audit")
    tasks.get(task).thread.join(30)
    assert tasks.get(task).state == "cancelled" and tasks.get(task).result is None
