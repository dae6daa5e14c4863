"""Counterfactual probes: the same held-out request, with one attribute of the user changed.

For each held-out prompt the generator writes a group of variants that differ
only in one attribute: the user's name across genders (same origin) or across
origins (same gender), a third person's pronoun, standard vs non-native
phrasing, or a stated age. The reference answer is the source's, since the
correct answer does not depend on who asks. The bias analysis
(:mod:`workbench.evaluation.bias`) compares the answers within each group.

Rows follow the scenario conventions (``docs/scenarios.md``): ``scenario =
"counterfactual"``, ``expected_behavior = "answer_correctly"``, ``split =
"test"``, ``source_id`` = the held-out row, ids
``<source>#scenario-counterfactual/<attribute>/<value>``, and ``meta`` holds
``cf_attribute``, ``cf_value``, ``cf_group`` (the counterfactual group id) and
``cf_text`` (the words swapped in). Sources whose request already mentions
the attribute (a name, a pronoun, an age) are rejected with a reason, so a
variant never carries two conflicting values.
"""

from __future__ import annotations

import random
import re
import tomllib
from typing import Any

import polars as pl
from pydantic import Field, field_validator

from workbench import schema
from workbench.components import Options, ScenarioGenerator
from workbench.context import StepContext
from workbench.evaluation.examples import split_conversation
from workbench.evaluation.lexicon import DATA, Matcher, load_attributes
from workbench.ledger import Ledger, StepResult

ATTRIBUTES = ("gender", "origin", "pronoun", "dialect", "age")
#: which word lists of the audit a source must not already match, per varied attribute
CONFLICTS = {"gender": ("gender",), "origin": ("gender",), "pronoun": ("gender",), "age": ("age",), "dialect": ()}
SCENARIO = "counterfactual"


def _data() -> dict[str, Any]:
    with open(DATA / "counterfactual.toml", "rb") as fh:
        return tomllib.load(fh)


class CounterfactualOptions(Options):
    attributes: list[str] = Field(default=list(ATTRIBUTES), description="Attributes varied: gender, origin, pronoun, dialect, age")
    max_sources: int = Field(default=12, ge=1, description="Held-out prompts used (drawn under the seed)")
    splits: list[str] = Field(default=["test"], description="Splits the prompts come from (\"*\": every row); rows without a split count when no row has one")
    ages: list[str] = Field(default_factory=lambda: list(_data()["values"]["age"]), description="Ages stated in the age variants")
    origins: list[str] | None = Field(default=None, description="Name origins used (default: every one in workbench/resources/bias/counterfactual.toml)")
    seed: int | None = Field(default=None, description="Seed of the draws (default: the run's seed)")
    suite_file: str = Field(default="counterfactual_suite.jsonl", description="File name of the probe suite in the step folder")

    @field_validator("attributes")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [a for a in value if a not in ATTRIBUTES]
        if unknown:
            raise ValueError(f"unknown attributes {unknown}; known: {', '.join(ATTRIBUTES)}")
        return value


class CounterfactualProbes(ScenarioGenerator):
    name = "scenario-counterfactual"
    description = "Held-out prompts in variants that change one user attribute (name, pronoun, dialect, age)"
    Options = CounterfactualOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        from workbench.scenarios.rows import write_suite

        rows, ledger, stats = self.generate(table, ctx.seed)
        write_suite(rows, ctx.step_dir / self.options.suite_file)
        out = pl.concat([schema.conform(table), rows], how="diagonal_relaxed") if table.height else rows
        return StepResult(out, ledger.frame(), stats, {"suite": self.options.suite_file})

    def generate(self, table: pl.DataFrame, seed: int) -> tuple[pl.DataFrame, Ledger, dict[str, Any]]:
        """The probe rows (not yet joined to ``table``), their ledger and stats."""
        o = self.options
        seed = o.seed if o.seed is not None else seed
        data = _data()
        origins = o.origins or list(data["names"]["female"])
        unknown = [x for x in origins if x not in data["names"]["female"]]
        if unknown:
            from workbench.errors import WorkbenchError

            raise WorkbenchError(f"scenario-counterfactual: unknown origins {', '.join(unknown)}",
                                 hint=f"known: {', '.join(data['names']['female'])}")
        matchers = {a: Matcher({a: groups}) for a, groups in load_attributes().items()}
        rng = random.Random(seed)
        ledger = Ledger(self.name)
        sources = _held_out(table, o.splits)
        rng.shuffle(sources)
        out, used = [], 0
        for row in sources:
            if used == o.max_sources:
                break
            prompt = _last_user(row["messages"])
            if prompt is None or not any(m.get("role") == "assistant" for m in row["messages"]):
                ledger.reject(row["id"], "no user prompt with an answer to vary")
                continue
            made = 0
            for attribute in o.attributes:
                clash = next((a for a in CONFLICTS[attribute] if matchers[a].mentions(prompt)), None)
                if clash:
                    ledger.reject(row["id"], f"prompt already mentions {clash}", detail={"attribute": attribute})
                    continue
                for value, text, new_prompt in _variants(attribute, prompt, data, o, origins, rng):
                    out.append(_row(row, attribute, value, text, new_prompt, self.name, seed))
                    made += 1
            used += made > 0
        probes = schema.from_rows(out) if out else schema.empty_table()
        for row_id, in probes.select("id").iter_rows():
            ledger.add(row_id, "counterfactual probe")
        per_attribute = {a: sum(r["meta"]["cf_attribute"] == a for r in out) for a in o.attributes}
        stats = {"sources": used, "rows": len(out), "per_attribute": per_attribute, "seed": seed,
                 "groups": len({r["meta"]["cf_group"] for r in out})}
        return probes, ledger, stats


def _held_out(table: pl.DataFrame, splits: list[str]) -> list[dict[str, Any]]:
    """Rows of the chosen splits; when no row has a split, every row (a held-out file)."""
    if "*" not in splits and table.height and table.get_column("split").is_not_null().any():
        table = table.filter(pl.col("split").is_in(splits))
    return [r for r in table.sort("id").iter_rows(named=True) if not r.get("expected_behavior")]


def _last_user(messages: list[dict[str, Any]]) -> str | None:
    prompt, _ = split_conversation(messages)
    return next((m["content"] for m in reversed(prompt) if m["role"] == "user" and m.get("content")), None)


def _variants(attribute: str, prompt: str, data: dict[str, Any], o: CounterfactualOptions, origins: list[str],
              rng: random.Random) -> list[tuple[str, str, str]]:
    """(value, words swapped in, new prompt) for every value of one attribute."""
    prefix = data["prefixes"]
    names = data["names"]
    if attribute == "gender":
        origin = rng.choice(origins)
        k = rng.randrange(len(names["female"][origin]))
        picks = [(g, names[g][origin][k % len(names[g][origin])]) for g in ("female", "male")]
        return [(g, n, prefix["name"].format(name=n) + prompt) for g, n in picks]
    if attribute == "origin":
        gender = rng.choice(["female", "male"])
        k = rng.randrange(3)
        picks = [(x, names[gender][x][k % len(names[gender][x])]) for x in origins]
        return [(x, n, prefix["name"].format(name=n) + prompt) for x, n in picks]
    if attribute == "pronoun":
        return [(p, p, prefix["pronoun"].format(pronoun=p) + prompt) for p in data["values"]["pronoun"]]
    if attribute == "age":
        return [(a, a, prefix["age"].format(age=a) + prompt) for a in o.ages]
    return [("standard", "", prompt), ("non_native", "non-native phrasing", non_native(prompt, data["non_native"]))]


def non_native(text: str, rules: dict[str, Any]) -> str:
    """The request in simplified, non-native phrasing (rewrites, articles dropped, an apology for the English)."""
    for phrase, replacement in sorted(rules["rewrites"].items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?i)\b{re.escape(phrase)}(?![\w'’])", replacement, text)
    drop = "|".join(re.escape(w) for w in rules["drop"])
    text = re.sub(rf"(?i)\b(?:{drop})\s+", "", text)
    text = text.rstrip()
    return text + ("" if text.endswith((".", "!", "?")) else ".") + rules["suffix"]


def _row(source: dict[str, Any], attribute: str, value: str, text: str, prompt: str, origin: str,
         seed: int) -> dict[str, Any]:
    turns, reference = split_conversation(source["messages"])
    last = max(i for i, t in enumerate(turns) if t["role"] == "user")
    messages = [*turns[:last], {"role": "user", "content": prompt}, {"role": "assistant", "content": reference}]
    return {"id": f"{source['id']}#{origin}/{attribute}/{value}", "messages": messages, "label": source.get("label"),
            "expected_behavior": "answer_correctly", "scenario": SCENARIO, "source_id": source.get("source_id") or source["id"],
            "origin": origin, "split": "test",
            "meta": {"cf_attribute": attribute, "cf_value": value, "cf_group": f"{source['id']}/{attribute}",
                     "cf_text": text, "engine": "counterfactual", "seed": seed, "mode": "suite", "generated": True,
                     "has_reference": True}}
