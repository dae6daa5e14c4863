"""The shared shape of a scenario engine: plan, draft, gate, emit rows.

An engine only says how to *draft* candidates for planned slots (from
templates, from a model); everything else — the options every engine shares,
the seeded plan, the quality gates, the ledger, the suite file — lives here,
so both engines behave the same and a third one is a small subclass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field, field_validator

from workbench import schema
from workbench.components import Options, ScenarioGenerator
from workbench.context import StepContext
from workbench.errors import WorkbenchError
from workbench.ledger import Ledger, StepResult
from workbench.scenarios import SCENARIO_TYPES, check_types
from workbench.scenarios.domain import Domain
from workbench.scenarios.plan import Slot, plan
from workbench.scenarios.quality import apply_gates, diversity_stats
from workbench.scenarios.rows import Candidate, to_table, write_suite

Tick = Callable[[int], None]


class ScenarioOptions(Options):
    types: list[str] = Field(default=list(SCENARIO_TYPES), description="Scenario types to generate")
    count: int = Field(default=4, ge=0, description="Scenarios per type and per mode")
    modes: list[Literal["suite", "train"]] = Field(
        default=["suite"], description="suite: test prompts with expected behaviour (also written to their own file); "
                                       "train: training rows with a reference answer")
    seed: int | None = Field(default=None, description="Seed of the draws (empty: the run's seed)")
    suite_reference: bool = Field(default=True, description="Suite rows keep the reference answer as a last assistant turn")
    min_chars: int = Field(default=8, ge=0, description="Reject scenarios whose prompt is shorter than this")
    max_chars: int = Field(default=800, ge=1, description="Reject scenarios whose prompt is longer than this")
    suite_file: str = Field(default="scenarios_suite.jsonl", description="File name of the suite in the step folder")

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        return check_types(value)


@dataclass
class Generated:
    """New rows of one generation, the ledger of what was added or rejected, stats."""

    rows: pl.DataFrame
    ledger: Ledger
    stats: dict


class ScenarioEngine(ScenarioGenerator):
    """Base of the scenario engines; subclasses implement :meth:`draft`."""

    engine = "base"
    Options = ScenarioOptions

    def __init__(self, options=None, *, base_dir: Path | None = None) -> None:
        super().__init__(options)
        #: folder that relative paths in options resolve against (the run file's, in a run)
        self.base_dir = base_dir or Path.cwd()

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def passes(self) -> int:
        """Progress units per slot (a model engine that also writes references makes two)."""
        return 1

    def draft(self, domain: Domain, slots: list[Slot], ledger: Ledger, tick: Tick) -> list[Candidate]:
        """Write one candidate per slot; reject (in the ledger) slots it cannot fill."""
        raise NotImplementedError

    def generate(self, table: pl.DataFrame, seed: int, tick: Tick = lambda n: None) -> Generated:
        """New scenario rows for ``table`` without writing anything (previews use this)."""
        o = self.options
        seed = o.seed if o.seed is not None else seed
        ledger = Ledger(self.name)
        domain = Domain.from_table(table)
        slots = plan(domain, o.types, o.count, list(o.modes), seed)
        drafted = self.draft(domain, slots, ledger, tick)
        trainable = []
        for cand in drafted:
            if cand.mode == "train" and not cand.reference:
                ledger.reject(cand.source.id, "no reference answer for a training row",
                              detail={"scenario": cand.scenario, "text": cand.prompt})
            else:
                trainable.append(cand)
        existing = [schema.message_text(m, roles=["user"]) for m in table.get_column("messages").to_list()] \
            if table.height else []
        kept = apply_gates(trainable, existing, ledger, min_chars=o.min_chars, max_chars=o.max_chars)
        rows = to_table(kept, self.name, suite_reference=o.suite_reference)
        for row_id, scenario in rows.select("id", "scenario").iter_rows():
            ledger.add(row_id, f"{scenario} scenario ({self.engine} engine)")
        rejected = ledger.frame().filter(pl.col("action") == "rejected")
        stats = {**diversity_stats(kept), "engine": self.engine, "seed": seed, "planned": len(o.types) * o.count * len(o.modes),
                 "drafted": len(drafted), "kept": len(kept),
                 "rejected_by_reason": {r: int(n) for r, n in rejected.group_by("reason").len().sort("reason").iter_rows()},
                 "entities": {k: len(v) for k, v in domain.entities.items()}}
        return Generated(rows, ledger, stats)

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        o = self.options
        self.base_dir = ctx.base_dir

        with ctx.progress(len(o.types) * o.count * len(o.modes) * self.passes(), f"{self.name}: drafting") as bar:
            def tick(n: int) -> None:
                bar.update(n)
                if ctx.cancelled():
                    raise WorkbenchError("scenario generation cancelled", hint="re-run the step to start again")

            gen = self.generate(table, ctx.seed, tick=tick)
        artifacts = {}
        if "suite" in o.modes:
            write_suite(gen.rows, ctx.step_dir / o.suite_file)
            artifacts["suite"] = o.suite_file
        out = pl.concat([schema.conform(table), gen.rows], how="diagonal_relaxed") if table.height else gen.rows
        return StepResult(out, gen.ledger.frame(), gen.stats, artifacts)
