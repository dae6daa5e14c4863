"""Built-in core steps: load a data file, split the table, subsample its training split."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Literal

import polars as pl
from pydantic import Field, model_validator

from workbench.components import Options, Step
from workbench.context import StepContext
from workbench.hookspecs import hookimpl
from workbench.ledger import Ledger, StepResult, rows_as_json


class LoadOptions(Options):
    path: str = Field(default="", description="Data file to load (relative to the run file's folder)")
    format: str | None = Field(default=None, description="Format name; detected from the file when empty")
    split: Literal["train", "validation", "test"] | None = Field(
        default=None, description="Assign this split to every loaded row (e.g. a held-out test file)")
    append: bool = Field(default=False, description="Append to the table of the previous steps instead of replacing it")
    replace: bool = Field(default=False, description="With append: a row whose id is already in the table replaces "
                          "it (how a `workbench runs restore` file puts changed rows back)")
    max_tokens: int | None = Field(default=None, description="Quarantine examples longer than this many tokens")
    tokenizer: str | None = Field(default=None, description="Tokenizer for max_tokens: a local folder or 'smollm2' "
                                  "(default: an approximation, 4 characters per token)")
    reader_options: dict[str, str] = Field(default_factory=dict, description="Options of the format's reader "
                                           "(CSV: prompt, response, system, label, id, delimiter)")


class Load(Step):
    name = "load"
    description = "Load a data file in any supported format; invalid rows go to quarantine with reasons"
    Options = LoadOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        from workbench import schema
        from workbench.io import load_table

        o = self.options
        if not o.path:
            from workbench.errors import WorkbenchError

            raise WorkbenchError("load step has no path", hint='set options = { path = "data.jsonl" }')
        result = load_table(ctx.resolve(o.path), format=o.format, quarantine_path=ctx.step_dir / "quarantine.jsonl",
                            max_tokens=o.max_tokens, tokenizer=o.tokenizer, options=o.reader_options or None)
        loaded = result.table
        if o.split:
            loaded = loaded.with_columns(pl.lit(o.split).alias("split"))
        ledger = Ledger(self.name)
        # a fresh load replaces the previous table: those rows count as dropped
        if not o.append and table.height:
            ledger.extend(pl.DataFrame({"row_id": table["id"], "action": "dropped", "reason": "replaced by load"}))
        # with replace, an appended row whose id is already in the table replaces it (a restored earlier version)
        again = (loaded.filter(pl.col("id").is_in(table["id"].to_list())) if o.append and o.replace and table.height
                 else loaded.clear())
        if again.height:
            before = table.filter(pl.col("id").is_in(again["id"].to_list()))
            ledger.extend(pl.DataFrame({"row_id": before["id"], "action": "changed", "row": rows_as_json(before),
                                        "reason": f"replaced by the row of the same id in {o.path}"}))
            table = table.filter(~pl.col("id").is_in(again["id"].to_list()))
        # every other record read is added; quarantined ones are dropped again with their reasons
        new = loaded.filter(~pl.col("id").is_in(again["id"].to_list())) if again.height else loaded
        ledger.extend(pl.DataFrame({"row_id": new["id"], "action": "added", "reason": f"loaded from {o.path}"}))
        for row_id, line, codes in result.recovered:
            ledger.change(row_id, f"recovered: {codes}", detail={"line": line})
        for q in result.quarantined:
            ledger.add(q.row_id, f"read from {o.path}")
            ledger.drop(q.row_id, f"invalid: {q.codes}", row=q.raw, detail=q.problems)
        out = pl.concat([schema.conform(table), schema.conform(loaded)]) if o.append else schema.conform(loaded)
        stats = {"rows_read": result.rows_read, "rows_kept": loaded.height, "rows_quarantined": len(result.quarantined),
                 "format": result.format, "problems": {code: n for (code, _), n in result.problem_counts.items()}}
        artifacts = {"quarantine": "quarantine.jsonl"} if result.quarantined else {}
        return StepResult(out, ledger.frame(), stats, artifacts)


class SplitOptions(Options):
    train: float = Field(default=0.8, ge=0, le=1, description="Fraction of groups for training")
    validation: float = Field(default=0.1, ge=0, le=1, description="Fraction of groups for validation")
    test: float = Field(default=0.1, ge=0, le=1, description="Fraction of groups for test")
    stratify_by: str | None = Field(default="label", description="Column to stratify by (null: no stratification)")
    group_by: str = Field(default="source_id", description="Rows sharing this value always land in the same split")
    keep_existing: bool = Field(default=True, description="Keep splits already assigned (e.g. a held-out file)")

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitOptions:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1, got {total:g}")
        return self


class Split(Step):
    name = "split"
    description = "Seeded train/validation/test split, stratified, group-aware on source_id"
    Options = SplitOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        o = self.options
        groups = _assign_groups(table, o, ctx.seed)
        expr = pl.col(o.group_by).replace_strict(groups, default=None, return_dtype=pl.Utf8)
        new_split = pl.when(pl.col("split").is_not_null() & pl.lit(o.keep_existing)).then(pl.col("split")).otherwise(expr)
        out = table.with_columns(new_split.alias("split"))
        counts = {k: int(v) for k, v in out.group_by("split").len().iter_rows() if k is not None}
        return StepResult(out, stats={"split_counts": counts, "groups": len(groups)})


class SubsampleOptions(Options):
    fraction: float = Field(default=1.0, gt=0, le=1, description="Share of the training groups kept")
    group_by: str = Field(default="source_id", description="Rows sharing this value are kept or dropped together")
    seed: int | None = Field(default=None, description="Seed of the group order (default: the run's seed)")


class Subsample(Step):
    """Keeps a seeded share of the train split; validation and test rows are never touched.

    Groups are ranked once by a hash of (seed, group), and a fraction keeps the
    first groups of that ranking: with one seed, a larger fraction always
    contains every row of a smaller one (nested learning-curve subsets).
    """

    name = "subsample"
    description = "Keep a seeded fraction of the training split (nested: larger fractions contain smaller ones)"
    Options = SubsampleOptions

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        import hashlib

        o = self.options
        seed = ctx.seed if o.seed is None else o.seed
        train = table.filter(pl.col("split") == "train")
        groups = sorted(set(train[o.group_by].cast(pl.Utf8).fill_null("").to_list()),
                        key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest())
        keep = set(groups[:max(1, round(len(groups) * o.fraction))] if groups else [])
        dropped = train.filter(~pl.col(o.group_by).cast(pl.Utf8).fill_null("").is_in(list(keep)))
        ledger = Ledger(self.name)
        ledger.extend(pl.DataFrame({"row_id": dropped["id"], "action": "dropped",
                                    "reason": f"subsample: outside the {o.fraction:g} share of train groups (seed {seed})"}))
        out = table.filter(~pl.col("id").is_in(dropped["id"].to_list()))
        return StepResult(out, ledger.frame(), stats={"fraction": o.fraction, "train_groups": len(groups),
                                                      "train_groups_kept": len(keep),
                                                      "train_rows": out.filter(pl.col("split") == "train").height})


def _assign_groups(table: pl.DataFrame, o: SplitOptions, seed: int) -> dict[str, str]:
    """Map each group value to a split; groups with an existing split keep it."""
    pending = table if not o.keep_existing else table.filter(pl.col("split").is_null())
    fixed = {} if not o.keep_existing else {
        g: s for g, s in table.filter(pl.col("split").is_not_null()).select(o.group_by, "split").iter_rows()}
    strat = o.stratify_by if o.stratify_by and o.stratify_by in table.columns else None
    strata: dict[object, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for row in pending.select(o.group_by, *( [strat] if strat else [])).iter_rows():
        group = row[0]
        if group in seen or group in fixed:
            continue
        seen.add(group)
        strata[row[1] if strat else None].append(group)
    rng = random.Random(seed)
    out = dict(fixed)
    for key in sorted(strata, key=lambda k: (k is None, str(k))):
        members = sorted(strata[key])
        rng.shuffle(members)
        n = len(members)
        n_test = round(n * o.test)
        n_val = round(n * o.validation)
        if n - n_test - n_val <= 0 and o.train > 0:
            n_test, n_val = max(0, n_test - 1), n_val
        for i, g in enumerate(members):
            out[g] = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
    return out


@hookimpl
def register_steps(register):
    from workbench.plugins.load_feedback import LoadFeedback

    register(Load)
    register(LoadFeedback)
    register(Split)
    register(Subsample)
