"""The template engine: well-formed, tagged, reproducible, gated, extensible."""

from __future__ import annotations

import json

import polars as pl
import pytest
from test_scenario_domain import ROWS, read_sample, support_table

from workbench import schema
from workbench.context import scratch_context
from workbench.errors import WorkbenchError
from workbench.ledger import balance_problem
from workbench.plugins.scenarios.template_engine import TemplateScenarios, reword
from workbench.scenarios import EXPECTED_BEHAVIOR, SCENARIO_TYPES

SOURCE_IDS = {r[0] for r in ROWS}


def run(tmp_path, table=None, run_seed=0, **options):
    table = support_table() if table is None else table
    return TemplateScenarios(options).run(table, scratch_context(tmp_path / f"step-{run_seed}", seed=run_seed))


def new_rows(result) -> list[dict]:
    return result.table.filter(pl.col("scenario").is_not_null()).to_dicts()


def assert_well_formed(row: dict, scenario: str) -> None:
    messages = row["messages"]
    assert row["scenario"] == scenario and row["expected_behavior"] == EXPECTED_BEHAVIOR[scenario]
    assert all(m["role"] in schema.ROLES and m["content"].strip() for m in messages)
    assert messages[0]["role"] == "system"
    assert [m["role"] for m in messages[1:]][::2] == ["user"] * len(messages[1:][::2]), "turns alternate"
    assert row["source_id"] in SOURCE_IDS and row["origin"] == "scenario-templates"
    meta = json.loads(row["meta"])
    assert meta["engine"] == "template" and meta["template"].startswith(scenario) and meta["generated"]
    assert isinstance(meta["seed"], int)


@pytest.mark.parametrize("scenario", SCENARIO_TYPES)
def test_each_type_makes_tagged_conversations(tmp_path, scenario):
    result = run(tmp_path, types=[scenario], count=3, suite_reference=False)
    rows = new_rows(result)
    assert rows, result.ledger
    for row in rows:
        assert_well_formed(row, scenario)
        assert row["split"] == "test" and row["messages"][-1]["role"] == "user"
    if scenario == "multi_turn_context":
        assert all(len(r["messages"]) == 4 for r in rows), "the source exchange is replayed before the follow-up"
    if scenario == "interleaved_intents":
        assert all(r["messages"][-1]["content"].count("?") + r["messages"][-1]["content"].count(".") >= 2 for r in rows)


def test_training_rows_end_with_a_reference_and_keep_the_accounting(tmp_path):
    table = support_table()
    result = run(tmp_path, table, modes=["train"], count=2)
    rows = new_rows(result)
    assert len(rows) >= len(SCENARIO_TYPES)
    assert balance_problem(table.height, result) is None
    assert result.counts()["added"] == len(rows)
    for row in rows:
        assert_well_formed(row, row["scenario"])
        assert row["messages"][-1]["role"] == "assistant" and row["split"] is None
        assert json.loads(row["meta"])["reference_by"] == "template"
    assert "suite" not in result.artifacts


def test_suite_file_holds_the_suite_rows_as_chat_jsonl(tmp_path):
    result = run(tmp_path, modes=["suite", "train"], count=1)
    path = tmp_path / "step-0" / result.artifacts["suite"]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    suite_ids = [r["id"] for r in new_rows(result) if r["split"] == "test"]
    assert [rec["id"] for rec in lines] == suite_ids and suite_ids
    assert set(lines[0]) >= {"messages", "scenario", "expected_behavior", "source_id", "label", "meta"}
    assert set(lines[0]["messages"][0]) == {"role", "content"}


def test_reproducible_under_a_seed(tmp_path):
    first = new_rows(run(tmp_path, run_seed=7, count=2))
    again = new_rows(run(tmp_path, run_seed=7, count=2))
    other = new_rows(run(tmp_path, run_seed=8, count=2))
    assert first == again
    assert [r["messages"] for r in first] != [r["messages"] for r in other]


def test_option_seed_overrides_the_run_seed(tmp_path):
    assert new_rows(run(tmp_path, run_seed=1, count=2, seed=5)) == new_rows(run(tmp_path, run_seed=2, count=2, seed=5))


def test_scenarios_use_the_users_entities(tmp_path):
    text = " ".join(m["content"] for r in new_rows(run(tmp_path, count=4)) for m in r["messages"] if m["role"] == "user")
    assert any(e in text for e in ("#A1234", "#B5678", "#C9012"))
    assert "Acme" in text and "$49.99" in text


def test_gates_reject_duplicates_and_out_of_bounds_with_reasons(tmp_path):
    table = support_table().head(2)
    crowded = run(tmp_path, table, types=["ambiguity"], count=20)
    reasons = crowded.ledger.filter(pl.col("action") == "rejected").get_column("reason").to_list()
    assert "duplicate" in reasons
    prompts = [r["messages"][-2]["content"] for r in new_rows(crowded)]
    assert len(prompts) == len(set(prompts))
    tight = run(tmp_path, table, types=["persona_tone"], count=2, max_chars=10)
    assert not new_rows(tight) and set(tight.ledger.get_column("reason")) == {"too long (> 10 chars)"}
    stats = crowded.stats
    assert stats["per_type"] == {"ambiguity": len(prompts)} and 0 < stats["distinct_1"] <= 1
    assert stats["rejected_by_reason"]["duplicate"] == reasons.count("duplicate")


def test_a_user_template_folder_extends_and_replaces(tmp_path):
    folder = tmp_path / "my_templates"
    folder.mkdir()
    (folder / "ambiguity.toml").write_text(
        'scenario = "ambiguity"\n[pools]\nvague = ["that thing"]\n'
        '[[templates]]\nid = "ambiguity.mine"\nuser = "What about {vague} for {intent}?"\n'
        'reference = "Which {intent} question do you mean?"\n')
    result = run(tmp_path, types=["ambiguity"], count=3, template_dir=str(folder), builtin_templates=False)
    rows = new_rows(result)
    assert rows and all(json.loads(r["meta"])["template"] == "ambiguity.mine" for r in rows)
    assert rows[0]["messages"][-2]["content"].startswith("What about that thing for ")


@pytest.mark.parametrize("content, message", [
    ('scenario = "nope"\n[[templates]]\nid = "x"\nuser = "hi"\n', "not a known type"),
    ('scenario = "ambiguity"\n[[templates]]\nid = "x"\nuser = "hi {nobody}"\n', "unknown placeholder"),
    ('scenario = "ambiguity"\n[[templates]]\nid = "x"\n', "non-empty user text"),
    ('scenario = [', "cannot be parsed"),
])
def test_bad_template_files_are_named_in_the_error(tmp_path, content, message):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.toml").write_text(content)
    with pytest.raises(WorkbenchError, match=message):
        run(tmp_path, template_dir=str(folder))


def test_reword_swaps_a_synonym_and_keeps_capitals():
    import random

    out = reword("Can you check my order?", [["can you", "could you"], ["check", "look up"]], random.Random(0))
    assert out in ("Could you check my order?", "Can you look up my order?")
    assert reword("Hello there", [["can you", "could you"]], random.Random(0)) is None


def test_sample_data_gives_every_type(tmp_path, sample_dir):
    path = sample_dir / "support.jsonl"
    if not path.exists():
        pytest.skip("sample_data/support.jsonl has not landed yet")
    table = read_sample(path)
    rows = new_rows(run(tmp_path, table, count=2, modes=["suite", "train"]))
    assert {r["scenario"] for r in rows} == set(SCENARIO_TYPES)
    for row in rows:
        assert row["expected_behavior"] == EXPECTED_BEHAVIOR[row["scenario"]]


def test_a_run_file_step_writes_the_suite_artifact(tmp_path, sample_dir):
    from workbench.runtime.engine import execute
    from workbench.runtime.runfile import load_runfile

    path = tmp_path / "run.toml"
    path.write_text(f'[run]\nname = "scenarios"\nseed = 13\n\n[[steps]]\nkind = "load"\n'
                    f'options = {{ path = "{sample_dir / "support.jsonl"}" }}\n\n'
                    '[[steps]]\nkind = "scenarios"\ncomponent = "scenario-templates"\n'
                    'options = { count = 1, modes = ["suite", "train"] }\n')
    outcome = execute(load_runfile(path), runs_dir=tmp_path / "runs")
    step = outcome.steps[-1].manifest
    assert step["added"] == 16 and step["stats"]["per_mode"] == {"suite": 8, "train": 8}
    assert outcome.artifacts["scenarios.suite"].endswith("scenarios_suite.jsonl")
