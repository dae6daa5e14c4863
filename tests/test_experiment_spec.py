"""The experiment file: variant patches (override, drop, add, fraction, seeds), errors, nested subsamples."""

from __future__ import annotations

import json

import polars as pl
import pytest

from workbench.errors import WorkbenchError
from workbench.experiment.spec import load_experiment, parse_experiment, run_name


def base(path="data.jsonl"):
    return {"run": {"name": "abl", "seed": 7}, "steps": [
        {"kind": "load", "options": {"path": path}},
        {"kind": "clean", "component": "whitespace"},
        {"kind": "augment", "component": "typos"},
        {"kind": "split", "options": {"train": 0.6, "validation": 0.2, "test": 0.2, "stratify_by": None}},
        {"kind": "train", "options": {"model": "tiny", "max_steps": 2, "lora_r": 4}},
        {"kind": "evaluate", "options": {"metrics": ["chrf"], "decode": {"max_new_tokens": 4}}},
    ]}


def steps_of(run):
    return [(s.kind, s.component_name, s.options) for s in run.runfile.steps]


def test_each_patch_kind_builds_its_own_run_file():
    exp = parse_experiment({**base(), "experiment": {"reference": "head"}, "variants": [
        {"name": "lora"},
        {"name": "head", "train": {"method": "head"}},
        {"name": "no-typos", "without": ["augment:typos"]},
        {"name": "pii", "add": [{"kind": "clean", "component": "pii", "after": "clean:whitespace"}]},
        {"name": "quarter", "data_fraction": 0.25, "seeds": [13, 14]},
        {"name": "rank-8", "train": {"lora_r": 8, "learning_rate": 1e-3}},
    ]})
    assert exp.reference == "head"
    runs = {r.label: r for r in exp.runs()}
    assert list(runs) == ["lora", "head", "no-typos", "pii", "quarter (seed 13)", "quarter (seed 14)", "rank-8"]
    assert runs["lora"].runfile.run.name == "abl--lora"
    assert runs["lora"].runfile.steps == exp.base.steps  # no patch: the base pipeline itself
    assert steps_of(runs["head"])[4][2] == {"model": "tiny", "max_steps": 2, "lora_r": 4, "method": "head"}
    assert [k for k, _, _ in steps_of(runs["no-typos"])] == ["load", "clean", "split", "train", "evaluate"]
    assert [c for _, c, _ in steps_of(runs["pii"])][:3] == ["load", "whitespace", "pii"]
    quarter = steps_of(runs["quarter (seed 14)"])
    assert quarter[4] == ("subsample", "subsample", {"fraction": 0.25})  # right after the split
    assert quarter[5][2]["seed"] == 14 and runs["quarter (seed 14)"].runfile.run.name == "abl--quarter--seed-14"
    assert runs["quarter (seed 14)"].runfile.run.seed == 7  # the split (and every shared step) keeps the run seed
    assert steps_of(runs["rank-8"])[4][2]["lora_r"] == 8
    assert "grid_trials" not in steps_of(runs["lora"])[5][2]


def test_a_grid_variant_has_its_trials_evaluated():
    exp = parse_experiment({**base(), "variants": [{"name": "grid", "train": {"grid": {"lora_r": [2, 4]}}}]})
    evaluate = exp.runs()[0].runfile.steps[-1].options
    assert evaluate == {"metrics": ["chrf"], "decode": {"max_new_tokens": 4}, "grid_trials": True}


@pytest.mark.parametrize("variant, message", [
    ({"name": "x", "train": {"lora_rank": 8}}, r"variant 'x': step 5 \(train:hf-causal-lm\).*lora_rank"),
    ({"name": "x", "augment:synonyms": {"n": 2}}, r"variant 'x'.*'augment:synonyms' names no step"),
    ({"name": "x", "evaluate": {"max_examples": 3}}, r"variant 'x'.*patches the evaluate step"),
    ({"name": "x", "without": ["evaluate"]}, r"variant 'x'.*patches the evaluate step"),
    ({"name": "x", "add": [{"kind": "clean", "component": "pii"}]}, r"variant 'x': add: a step needs after"),
    ({"name": "x", "add": [{"kind": "evaluate", "after": "train"}]}, r"cannot add an evaluate step"),
    ({"name": "x", "data_fraction": 1.5}, r"variant 'x': data_fraction 1.5"),
    ({"name": "x", "seeds": [1, 1]}, r"variant 'x': seeds must be"),
    ({"name": "x", "lora_r": 8}, r"variant 'x': 'lora_r' is neither"),
    ({"name": ""}, r"variant 1 has no name"),
    ({"name": "base model"}, r"variant 'base model': the name is reserved"),
])
def test_bad_patches_name_the_variant_and_the_key(variant, message):
    with pytest.raises(WorkbenchError, match=message):
        parse_experiment({**base(), "variants": [variant]})


def test_two_steps_of_one_kind_need_kind_and_component():
    data = base()
    data["steps"].insert(2, {"kind": "clean", "component": "unicode"})
    with pytest.raises(WorkbenchError, match="'clean' names 2 steps") as err:
        parse_experiment({**data, "variants": [{"name": "x", "without": ["clean"]}]})
    assert "clean:unicode" in err.value.hint
    exp = parse_experiment({**data, "variants": [{"name": "x", "without": ["clean:unicode"]}]})
    assert [s.component_name for s in exp.runs()[0].runfile.steps][:2] == ["load", "whitespace"]


def test_reference_names_must_exist_and_names_be_unique():
    with pytest.raises(WorkbenchError, match="reference 'nope' is no variant"):
        parse_experiment({**base(), "experiment": {"reference": "nope"}, "variants": [{"name": "a"}]})
    with pytest.raises(WorkbenchError, match="repeated: a"):
        parse_experiment({**base(), "variants": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(WorkbenchError, match="no \\[\\[variants\\]\\]"):
        parse_experiment(base())


def test_unsafe_variant_names_get_distinct_safe_folders():
    a, b = run_name("e", "<b>x</b>", None), run_name("e", "<i>x</i>", 3)
    assert a != b and all(c.isalnum() or c in "-_." for c in a + b) and b.endswith("--seed-3")
    assert run_name("e", "lora-r8", None) == "e--lora-r8"


def test_experiment_file_is_read_from_toml(tmp_path):
    (tmp_path / "exp.toml").write_text("""
[run]
name = "abl"
[[steps]]
kind = "load"
options = { path = "data.jsonl" }
[[steps]]
kind = "split"
[[steps]]
kind = "train"
options = { model = "tiny" }
[[variants]]
name = "full"
train.method = "full"
[[variants]]
name = "half"
data_fraction = 0.5
""")
    exp = load_experiment(tmp_path / "exp.toml")
    assert exp.base.base_dir == tmp_path and exp.reference == "full"
    assert exp.runs()[0].runfile.steps[2].options == {"model": "tiny", "method": "full"}


def test_subsamples_are_nested_group_aware_and_leave_held_out_rows(tmp_path):
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import parse_runfile

    rows = [{"id": f"r{i}", "source_id": f"g{i // 2}", "split": "test" if i >= 36 else None,
             "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
            for i in range(40)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept = {}
    for fraction in (0.25, 0.5, 1.0):
        rf = parse_runfile({"run": {"name": f"f{fraction}", "seed": 3}, "steps": [
            {"kind": "load", "options": {"path": "data.jsonl"}},
            {"kind": "split", "options": {"train": 1.0, "validation": 0.0, "test": 0.0, "stratify_by": None}},
            {"kind": "subsample", "component": "subsample", "options": {"fraction": fraction}}]}, base_dir=tmp_path)
        out = execute(rf)
        table = out.table
        kept[fraction] = set(table.filter(pl.col("split") == "train")["id"])
        assert table.filter(pl.col("split") == "test").height == 4  # held-out rows untouched
        groups = table.filter(pl.col("split") == "train").group_by("source_id").len()
        assert set(groups["len"]) == {2}  # a group is kept or dropped whole
        manifest = out.steps[-1].manifest
        assert manifest["stats"]["train_groups_kept"] == round(18 * fraction)
        if fraction < 1:
            assert list(manifest["dropped_by_reason"]) == [f"subsample: outside the {fraction:g} share of train groups (seed 3)"]
    assert kept[0.25] < kept[0.5] < kept[1.0] and len(kept[1.0]) == 36


def test_the_sample_experiment_and_the_docs_example_parse():
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sample = load_experiment(root / "sample_data" / "ablation.toml")
    assert [r.label for r in sample.runs()] == ["lora", "no-augment", "head-only", "half-data", "quarter-data"]
    curve = {v.signature(with_fraction=False) for v in sample.variants if v.name in ("lora", "half-data", "quarter-data")}
    assert len(curve) == 1  # these three differ only in data_fraction: one learning curve
    text = (root / "sample_data" / "ablation.toml").read_text()
    snippet = re.findall(r"```toml\n(.*?)```", (root / "docs" / "experiments.md").read_text(), re.S)[0]
    documented = parse_experiment(tomllib.loads(text[:text.index("[experiment]")] + snippet),
                                  base_dir=root / "sample_data")
    assert len(documented.runs()) == 8 and documented.reference == "lora"
