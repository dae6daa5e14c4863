"""The example third-party plugin: installed as a package, listed, used in a run."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import polars as pl
import pytest

from workbench.runtime import store
from workbench.runtime.engine import execute
from workbench.runtime.runfile import parse_runfile

pytestmark = pytest.mark.entry_points


def test_installed_with_an_entry_point():
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group="workbench")}
    assert eps["example"].value == "workbench_example_plugin"
    assert eps["example"].dist.name == "workbench-example-plugin"


def test_listed_by_plugins_json():
    out = subprocess.run([sys.executable, "-m", "workbench", "plugins", "--json"], capture_output=True, text=True,
                         check=True)
    example = next(p for p in json.loads(out.stdout) if p["name"] == "example")
    assert example["source"] == "entrypoint" and example["version"] == "0.1.0"
    assert {(c["kind"], c["name"]) for c in example["components"]} >= {
        ("reader", "faq-markdown"), ("writer", "faq-markdown"), ("cleaner", "strip-signatures"), ("augmenter", "polite-prefix"), ("scenario", "greeting-probe"),
        ("trainer", "majority-label"), ("step", "keep-labels"), ("metric", "required-phrase")}


def test_used_in_a_run(sample_dir, tmp_path):
    data = tmp_path / "chats.jsonl"
    lines = [json.loads(l) for l in (sample_dir / "heldout.jsonl").read_text().splitlines()[:20]]
    lines[0]["messages"][1]["content"] += "\n\nSent from my iPhone"
    data.write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    rf = parse_runfile({"run": {"name": "example", "seed": 3}, "steps": [
        {"kind": "load", "options": {"path": str(data)}},
        {"kind": "clean", "component": "strip-signatures"},
        {"kind": "split", "options": {"train": 0.5, "validation": 0.25, "test": 0.25, "stratify_by": None}},
        {"kind": "augment", "component": "polite-prefix"},
        {"kind": "scenarios", "component": "greeting-probe"},
        {"kind": "train", "component": "majority-label"},
        {"kind": "filter", "component": "keep-labels", "options": {"labels": [lines[0]["label"]]}},
    ]})
    out = execute(rf)
    clean, _, augment, scenarios, train, keep = [s.manifest for s in out.steps[1:]]
    assert set(out.table["label"]) == {lines[0]["label"]} and keep["dropped"] == keep["rows_in"] - keep["rows_out"] > 0
    table = store.load_output(out.steps[-2].folder)  # before the filter
    assert clean["changed"] == 1 and clean["plugin"] == "example"
    assert "Sent from" not in json.dumps(table.filter(pl.col("id") == lines[0]["id"])["messages"].to_list())
    variants = table.filter(pl.col("origin") == "polite-prefix")
    assert augment["added"] == variants.height > 0
    assert set(variants["split"]) == {"train"}
    assert scenarios["added"] == table.filter(pl.col("origin") == "greeting-probe").height == len(
        {l["label"] for l in lines})
    model = json.loads(open(out.artifacts["train.model"]).read())
    assert model["label"] in {l["label"] for l in lines}


def test_convert_detects_and_writes_the_faq_format(tmp_path):
    faq = tmp_path / "faq.md"
    faq.write_text("# tenancy\n## Can my landlord keep my deposit? {#deposit}\nOnly for unpaid rent or damage.\n")
    subprocess.run([sys.executable, "-m", "workbench", "convert", str(faq), str(tmp_path / "faq.jsonl")], check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "workbench", "convert", str(tmp_path / "faq.jsonl"), str(tmp_path / "back.md")],
                   check=True, capture_output=True)
    assert (tmp_path / "back.md").read_text() == (
        "# tenancy\n\n## Can my landlord keep my deposit? {#deposit}\n\nOnly for unpaid rent or damage.\n")


def test_metric_scores_the_house_sign_off():
    from workbench.runtime.discovery import get_registry

    metric = get_registry().get("metric", "required-phrase")()
    result = metric.compute(pl.DataFrame({"prediction": [
        "Your order shipped. Is there anything else I can help you with today?", "It shipped."]}))
    assert result.score == 0.5 and result.per_example == [1.0, 0.0]
