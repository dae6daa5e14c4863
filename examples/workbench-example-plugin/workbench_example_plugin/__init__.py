"""Example third-party Workbench plugin: one small, real component per family."""

from __future__ import annotations

import json
import re
from collections import Counter

import polars as pl
from pydantic import Field

from workbench.components import Augmenter, Cleaner, Metric, Options, ScenarioGenerator, Trainer
from workbench.hookspecs import hookimpl
from workbench.ledger import Ledger, StepResult, rows_as_json

__version__ = "0.1.0"

SIGNATURE = re.compile(r"\n+\s*(?:sent from my [^\n]*|--+\s*\n[^\n]*|best,?\s*\n[^\n]*)\s*$", re.IGNORECASE)


class StripSignaturesOptions(Options):
    roles: list[str] = Field(default=["user"], description="Roles whose turns lose trailing signatures")


class StripSignatures(Cleaner):
    name = "strip-signatures"
    description = "Remove e-mail style signatures from the end of turns"
    Options = StripSignaturesOptions

    def run(self, table: pl.DataFrame, ctx) -> StepResult:
        roles = set(self.options.roles)
        ledger = Ledger(self.name)
        new_messages = []
        for row in table.iter_rows(named=True):
            msgs = [dict(m, content=SIGNATURE.sub("", m["content"] or "")) if m["role"] in roles else m
                    for m in row["messages"]]
            if msgs != row["messages"]:
                ledger.change(row["id"], "signature removed", row=row)
            new_messages.append(msgs)
        out = table.with_columns(pl.Series("messages", new_messages, dtype=table.schema["messages"]))
        return StepResult(out, ledger.frame())


class PolitePrefixOptions(Options):
    greeting: str = Field(default="Hi there,", description="Text put before the first user turn")
    splits: list[str] = Field(default=["train"], description="Only rows of these splits get a variant")


class PolitePrefix(Augmenter):
    name = "polite-prefix"
    description = "Add a variant whose first user turn starts with a greeting"
    Options = PolitePrefixOptions

    def run(self, table: pl.DataFrame, ctx) -> StepResult:
        o = self.options
        ledger = Ledger(self.name)
        variants = []
        for row in table.filter(pl.col("split").is_in(o.splits)).iter_rows(named=True):
            msgs = [dict(m) for m in row["messages"]]
            first = next((m for m in msgs if m["role"] == "user"), None)
            if first is None or first["content"].startswith(o.greeting):
                ledger.reject(row["id"], "no user turn to prefix" if first is None else "already greeted")
                continue
            first["content"] = f"{o.greeting} {first['content'][:1].lower()}{first['content'][1:]}"
            vid = f"{row['id']}~polite"
            variants.append(dict(row, id=vid, messages=msgs, origin=self.name))
            ledger.add(vid, "greeting variant", detail={"source_id": row["source_id"]})
        out = pl.concat([table, pl.DataFrame(variants, schema=table.schema)]) if variants else table
        return StepResult(out, ledger.frame())


class GreetingProbe(ScenarioGenerator):
    name = "greeting-probe"
    description = "One greeting-only evaluation prompt per intent: the model should ask what is needed"

    def run(self, table: pl.DataFrame, ctx) -> StepResult:
        ledger = Ledger(self.name)
        rows = []
        labels = sorted(l for l in table.get_column("label").unique().to_list() if l)
        for label in labels:
            system = next((m["content"] for r in table.filter(pl.col("label") == label).head(1).iter_rows(named=True)
                           for m in r["messages"] if m["role"] == "system"), None)
            rid = f"greeting-probe-{label}"
            msgs = ([{"role": "system", "content": system, "weight": None}] if system else []) + [
                {"role": "user", "content": "hello", "weight": None}]
            rows.append({"id": rid, "messages": msgs, "label": label, "expected_behavior": "ask_clarification",
                         "scenario": "ambiguity", "source_id": rid, "origin": self.name, "split": "test",
                         "meta": json.dumps({"engine": "example"})})
            ledger.add(rid, "greeting probe")
        out = pl.concat([table, pl.DataFrame(rows, schema=table.schema)]) if rows else table
        return StepResult(out, ledger.frame(), stats={"generated": len(rows)})


class MajorityLabel(Trainer):
    name = "majority-label"
    description = "Baseline classifier: predict the most frequent training label"

    def run(self, table: pl.DataFrame, ctx) -> StepResult:
        counts = Counter(table.filter(pl.col("split") == "train").get_column("label").drop_nulls().to_list())
        if not counts:
            from workbench.errors import WorkbenchError

            raise WorkbenchError("majority-label needs training rows with a label", hint="add a split step first")
        label, _ = counts.most_common(1)[0]
        (ctx.step_dir / "model.json").write_text(json.dumps({"label": label, "counts": counts}))
        return StepResult(table, stats={"label": label}, artifacts={"model": "model.json"})


class RequiredPhraseOptions(Options):
    phrase: str = Field(default="Is there anything else I can help you with today?",
                        description="Text every answer should contain (a house-style check)")
    case_sensitive: bool = Field(default=False, description="Match case exactly")


class RequiredPhrase(Metric):
    name = "required-phrase"
    description = "Share of answers that contain a required phrase"
    requires = ("prediction",)
    Options = RequiredPhraseOptions

    def compute(self, frame: pl.DataFrame):
        from workbench.evaluation.result import MetricResult, mean

        phrase = self.options.phrase if self.options.case_sensitive else self.options.phrase.lower()
        texts = [(p or "") if self.options.case_sensitive else (p or "").lower() for p in frame["prediction"]]
        scores = [float(phrase in t) for t in texts]
        return MetricResult(self.name, mean(scores), scores)


@hookimpl
def register_cleaners(register):
    register(StripSignatures)


@hookimpl
def register_augmenters(register):
    register(PolitePrefix)


@hookimpl
def register_scenario_generators(register):
    register(GreetingProbe)


@hookimpl
def register_trainers(register):
    register(MajorityLabel)


@hookimpl
def register_metrics(register):
    register(RequiredPhrase)
