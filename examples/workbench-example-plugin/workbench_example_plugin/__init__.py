"""Example third-party Workbench plugin: one small, real component per family.

Everything comes from ``import workbench`` (the plugin API); docs/plugins.md is
the contract each component follows.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import polars as pl
from pydantic import Field

import workbench
from workbench_example_plugin.faq import FaqMarkdownReader, FaqMarkdownWriter

__version__ = "0.1.0"

SIGNATURE = re.compile(r"\n+\s*(?:sent from my [^\n]*|--+\s*\n[^\n]*|best,?\s*\n[^\n]*)\s*$", re.IGNORECASE)


class StripSignaturesOptions(workbench.Options):
    roles: list[str] = Field(default=["user"], description="Roles whose turns lose trailing signatures")


class StripSignatures(workbench.Cleaner):
    name = "strip-signatures"
    description = "Remove e-mail style signatures from the end of turns"
    version = "1"
    Options = StripSignaturesOptions

    def run(self, table: pl.DataFrame, ctx: workbench.StepContext) -> workbench.StepResult:
        roles = set(self.options.roles)
        ledger = workbench.Ledger(self.name)
        new_messages = []
        for row in table.iter_rows(named=True):
            msgs = [dict(m, content=SIGNATURE.sub("", m["content"] or "")) if m["role"] in roles else m
                    for m in row["messages"]]
            if msgs != row["messages"]:
                ledger.change(row["id"], "signature removed", row=row)  # the row before: `runs restore` undoes it
            new_messages.append(msgs)
        out = table.with_columns(pl.Series("messages", new_messages, dtype=table.schema["messages"]))
        return workbench.StepResult(out, ledger.frame())


class PolitePrefixOptions(workbench.AugmentOptions):
    greetings: list[str] = Field(default=["Hi there,", "Hello,"], min_length=1,
                                 description="Text put before the first turn of a chosen role; variant n uses the n-th")


class PolitePrefix(workbench.Augmenter):
    """Shared augmenter options and lineage (workbench.augmentation): unsplit rows, ids, meta as documented."""

    name = "polite-prefix"
    description = "Add variants whose first user turn starts with a greeting"
    version = "2"
    Options = PolitePrefixOptions

    def run(self, table: pl.DataFrame, ctx: workbench.StepContext) -> workbench.StepResult:
        o = self.options
        ledger = workbench.Ledger(self.name)
        taken = set(table["id"].to_list())
        variants = []
        for row in table.filter(workbench.augment_selection(o)).iter_rows(named=True):
            msgs = [dict(m) for m in row["messages"]]
            first = next((m for m in msgs if m["role"] in o.roles), None)
            if first is None:
                ledger.reject(row["id"], "no turn of the chosen roles to prefix")
                continue
            seen = set()
            for n in range(o.variants):
                greeting = o.greetings[n % len(o.greetings)]
                if first["content"].startswith(greeting) or greeting in seen:
                    ledger.reject(row["id"], "already greeted" if greeting not in seen else "duplicate of another variant",
                                  detail={"variant": n + 1, "greeting": greeting})
                    continue
                seen.add(greeting)
                text = f"{greeting} {first['content'][:1].lower()}{first['content'][1:]}"
                new = [dict(m, content=text) if m is first else m for m in msgs]
                variant = workbench.variant_row(row, new, augmenter=self.name, version=self.version, seed=ctx.seed,
                                      variant=n + 1, taken=taken, greeting=greeting)
                variants.append(variant)
                ledger.add(variant["id"], f"greeting variant of {row['id']}")
        out = pl.concat([table, pl.DataFrame(variants, schema=table.schema)]) if variants else table
        return workbench.StepResult(out, ledger.frame(), stats={"variants": len(variants)})


class GreetingProbe(workbench.ScenarioGenerator):
    name = "greeting-probe"
    description = "One greeting-only evaluation prompt per intent: the model should ask what is needed"
    version = "1"

    def run(self, table: pl.DataFrame, ctx: workbench.StepContext) -> workbench.StepResult:
        ledger = workbench.Ledger(self.name)
        rows = []
        labels = sorted(label for label in table.get_column("label").unique().to_list() if label)
        for label in labels:
            source = table.filter(pl.col("label") == label).row(0, named=True)
            system = next((m["content"] for m in source["messages"] if m["role"] == "system"), None)
            rid = f"greeting-probe-{label}"
            msgs = ([{"role": "system", "content": system, "weight": None}] if system else []) + [
                {"role": "user", "content": "hello", "weight": None}]
            rows.append({"id": rid, "messages": msgs, "label": label, "expected_behavior": "ask_clarification",
                         "scenario": "ambiguity", "source_id": rid, "origin": self.name, "split": "test",
                         "meta": json.dumps({"engine": "example", "derived_from": source["id"]})})
            ledger.add(rid, "greeting probe")
        out = pl.concat([table, pl.DataFrame(rows, schema=table.schema)]) if rows else table
        return workbench.StepResult(out, ledger.frame(), stats={"generated": len(rows)})


class MajorityLabel(workbench.Trainer):
    name = "majority-label"
    description = "Baseline classifier: predict the most frequent training label"
    version = "1"

    def run(self, table: pl.DataFrame, ctx: workbench.StepContext) -> workbench.StepResult:
        counts = Counter(table.filter(pl.col("split") == "train").get_column("label").drop_nulls().to_list())
        if not counts:
            raise workbench.WorkbenchError("majority-label needs training rows with a label",
                                           hint="add a split step first")
        label, _ = counts.most_common(1)[0]
        ctx.step_dir.mkdir(parents=True, exist_ok=True)
        (ctx.step_dir / "model.json").write_text(json.dumps({"label": label, "counts": counts}))
        return workbench.StepResult(table, stats={"label": label}, artifacts={"model": "model.json"})


class KeepLabelsOptions(workbench.Options):
    labels: list[str] = Field(default_factory=list, description="Labels to keep (empty: keep every row)")


class KeepLabels(workbench.Step):
    name = "keep-labels"
    description = "Keep only rows with one of the given labels"
    version = "1"
    Options = KeepLabelsOptions

    def run(self, table: pl.DataFrame, ctx: workbench.StepContext) -> workbench.StepResult:
        if not self.options.labels:
            return workbench.StepResult(table)
        keep = pl.col("label").is_in(self.options.labels).fill_null(False)
        ledger = workbench.Ledger(self.name)
        for row in table.filter(~keep).iter_rows(named=True):
            ledger.drop(row["id"], f"label {row['label']!r} not kept", row=row)
        return workbench.StepResult(table.filter(keep), ledger.frame())


class RequiredPhraseOptions(workbench.Options):
    phrase: str = Field(default="Is there anything else I can help you with today?",
                        description="Text every answer should contain (a house-style check)")
    case_sensitive: bool = Field(default=False, description="Match case exactly")


class RequiredPhrase(workbench.Metric):
    name = "required-phrase"
    description = "Share of answers that contain a required phrase"
    version = "1"
    requires = ("prediction",)
    Options = RequiredPhraseOptions

    def compute(self, frame: pl.DataFrame) -> workbench.MetricResult:
        fold = (lambda t: t) if self.options.case_sensitive else str.lower
        phrase = fold(self.options.phrase)
        scores: list[float | None] = [float(phrase in fold(p or "")) for p in frame["prediction"]]
        score = sum(s for s in scores if s is not None) / len(scores) if scores else None
        return workbench.MetricResult(self.name, score, scores)


@workbench.hookimpl
def register_readers(register):
    register(FaqMarkdownReader)


@workbench.hookimpl
def register_writers(register):
    register(FaqMarkdownWriter)


@workbench.hookimpl
def register_cleaners(register):
    register(StripSignatures)


@workbench.hookimpl
def register_augmenters(register):
    register(PolitePrefix)


@workbench.hookimpl
def register_scenario_generators(register):
    register(GreetingProbe)


@workbench.hookimpl
def register_trainers(register):
    register(MajorityLabel)


@workbench.hookimpl
def register_steps(register):
    register(KeepLabels)


@workbench.hookimpl
def register_metrics(register):
    register(RequiredPhrase)
