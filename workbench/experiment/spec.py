"""The experiment file: a run file plus named ``[[variants]]``, each a small patch of the base pipeline.

```toml
[run]
name = "ablation"
seed = 13
[[steps]]                # the base pipeline, as in a run file
...
[experiment]
reference = "lora"       # the variant the others are tested against (default: the first)

[[variants]]
name = "lora"
[[variants]]
name = "head-only"
train.method = "head"                    # override options of the step addressed by kind or kind:component
[[variants]]
name = "no-augment"
without = ["augment:synonyms"]           # drop steps
[[variants]]
name = "quarter"
data_fraction = 0.25                     # nested subset of the training split (a subsample step after split)
seeds = [13, 14]                         # repeats: the train step's seed
add = [{ kind = "clean", component = "pii-redact", after = "load" }]
```

Each variant (and seed) becomes an ordinary run file named ``<experiment>--<variant>[--seed-N]``.
The evaluate step cannot be patched: every variant answers the same held-out rows with the same decoding.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.runtime.runfile import RunFile, StepSpec, parse_runfile, read_toml

#: keys of a ``[[variants]]`` entry that are not step addresses
VARIANT_KEYS = {"name", "description", "without", "add", "data_fraction", "seeds"}


@dataclass
class Variant:
    name: str
    patches: dict[str, dict[str, Any]]
    without: list[str]
    add: list[dict[str, Any]]
    data_fraction: float | None = None
    seeds: list[int] | None = None
    description: str = ""

    def run_seeds(self) -> list[int | None]:
        """The seed of each of the variant's runs: its ``seeds``, or one run with the run file's seed (None)."""
        return list(self.seeds) if self.seeds else [None]

    def signature(self, *, with_fraction: bool = True) -> str:
        """The patch as text: variants with equal signatures (fraction aside) lie on one learning curve."""
        import json

        parts = {"patches": self.patches, "without": sorted(self.without), "add": self.add,
                 "seeds": self.seeds, "fraction": self.data_fraction if with_fraction else None}
        return json.dumps(parts, sort_keys=True, default=str)


@dataclass
class VariantRun:
    """One run of the experiment: a variant, at one seed when it has several."""

    variant: Variant
    seed: int | None
    runfile: RunFile

    @property
    def label(self) -> str:
        return self.variant.name if self.seed is None else f"{self.variant.name} (seed {self.seed})"


@dataclass
class Experiment:
    name: str
    base: RunFile
    variants: list[Variant]
    reference: str
    source: str = "experiment file"

    def runs(self) -> list[VariantRun]:
        """Every run of the experiment, in file order (a variant's seeds together)."""
        out = []
        for v in self.variants:
            for seed in v.run_seeds():
                out.append(VariantRun(v, seed, variant_runfile(self, v, seed)))
        return out


def load_experiment(path: str | Path) -> Experiment:
    path = Path(path)
    return parse_experiment(read_toml(path, "experiment file"), base_dir=path.resolve().parent, source=str(path))


def parse_experiment(data: dict[str, Any], *, base_dir: Path = Path("."), source: str = "experiment file") -> Experiment:
    data = dict(data)
    raw_variants = data.pop("variants", None)
    settings = data.pop("experiment", {}) or {}
    if not raw_variants:
        raise WorkbenchError(f"{source}: no [[variants]]", hint='add at least one [[variants]] with name = "..."')
    unknown = sorted(set(settings) - {"reference"})
    if unknown:
        raise WorkbenchError(f"{source}: [experiment] has unknown keys {', '.join(unknown)}",
                             hint="the [experiment] table takes reference = \"<variant name>\"")
    base = parse_runfile(data, base_dir=base_dir, source=source)
    variants = [_variant(raw, i, source) for i, raw in enumerate(raw_variants, start=1)]
    names = [v.name for v in variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise WorkbenchError(f"{source}: variant names must be unique; repeated: {', '.join(twice)}")
    reference = settings.get("reference", names[0])
    if reference not in names:
        raise WorkbenchError(f"{source}: [experiment] reference {reference!r} is no variant",
                             hint=f"choose one of: {', '.join(names)}")
    exp = Experiment(base.run.name, base, variants, reference, source)
    for v in variants:  # every patch is checked now, not when its run comes up
        for seed in v.run_seeds():
            variant_runfile(exp, v, seed)
    return exp


def _variant(raw: Any, position: int, source: str) -> Variant:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
        raise WorkbenchError(f"{source}: variant {position} has no name", hint='every [[variants]] needs name = "..."')
    name = raw["name"]
    where = f"{source}: variant {name!r}"
    if name == "base model":
        raise WorkbenchError(f"{where}: the name is reserved for the base model's column", hint="choose another name")
    patches = {k: v for k, v in raw.items() if k not in VARIANT_KEYS}
    for key, value in patches.items():
        if not isinstance(value, dict):
            raise WorkbenchError(f"{where}: {key!r} is neither a variant setting nor a step's options",
                                 hint=f"settings are {', '.join(sorted(VARIANT_KEYS))}; options are set as "
                                      f"<kind>.<option> = value, e.g. train.lora_r = 8")
    without = raw.get("without", [])
    add = raw.get("add", [])
    if not isinstance(without, list) or not all(isinstance(w, str) for w in without):
        raise WorkbenchError(f"{where}: without must be a list of step addresses", hint='e.g. without = ["augment:synonyms"]')
    if not isinstance(add, list) or not all(isinstance(a, dict) for a in add):
        raise WorkbenchError(f"{where}: add must be a list of steps",
                             hint='e.g. add = [{ kind = "clean", component = "pii-redact", after = "load" }]')
    fraction = raw.get("data_fraction")
    if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                 or not 0 < fraction <= 1):
        raise WorkbenchError(f"{where}: data_fraction {fraction!r} must be a number in (0, 1]")
    seeds = raw.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not seeds
                              or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
                              or len(set(seeds)) != len(seeds)):
        raise WorkbenchError(f"{where}: seeds must be a non-empty list of distinct integers", hint="e.g. seeds = [13, 14, 15]")
    return Variant(name, patches, without, add, None if fraction is None else float(fraction), seeds,
                   str(raw.get("description", "")))


def run_name(experiment: str, variant: str, seed: int | None) -> str:
    """The variant's run folder name: ``<experiment>--<variant>[--seed-N]``, made safe for a folder.

    A name with other characters than letters, digits, ``.``, ``_`` and ``-`` keeps a short hash of
    itself, so two unsafe names never share a folder.
    """
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "-", variant).strip("-.") or "variant"
    if slug != variant:
        slug += "-" + hashlib.sha256(variant.encode()).hexdigest()[:6]
    return f"{experiment}--{slug}" + (f"--seed-{seed}" if seed is not None else "")


def find_step(steps: list[StepSpec], address: str, where: str) -> int:
    """Index of the one step ``address`` (``kind`` or ``kind:component``) names; an error otherwise."""
    kind, _, component = address.partition(":")
    matches = [i for i, s in enumerate(steps)
               if s.kind == kind and (not component or _component(s) == component)]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(f"{s.kind}:{_component(s)}" for s in steps)
    if not matches:
        raise WorkbenchError(f"{where}: {address!r} names no step of the pipeline", hint=f"the steps are: {listed}")
    raise WorkbenchError(f"{where}: {address!r} names {len(matches)} steps",
                         hint=f"address one with kind:component; the steps are: {listed}")


def _component(step: StepSpec) -> str:
    try:
        return step.component_name
    except WorkbenchError:
        return "?"


def _no_evaluate(steps: list[StepSpec], index: int, address: str, where: str) -> None:
    if steps[index].kind == "evaluate":
        raise WorkbenchError(f"{where}: {address!r} patches the evaluate step",
                             hint="every variant is evaluated on the same rows with the same decoding; "
                                  "change the evaluate step in the base pipeline instead")


def variant_runfile(exp: Experiment, variant: Variant, seed: int | None) -> RunFile:
    """The base pipeline with ``variant``'s patch applied, as the run file of its own run."""
    where = f"{exp.source}: variant {variant.name!r}"
    steps = [s.model_copy(deep=True) for s in exp.base.steps]
    for address in variant.without:
        i = find_step(steps, address, f"{where}: without")
        _no_evaluate(steps, i, address, f"{where}: without")
        steps.pop(i)
    for raw in variant.add:
        raw = dict(raw)
        after = raw.pop("after", None)
        if not isinstance(after, str):
            raise WorkbenchError(f"{where}: add: a step needs after = \"<kind or kind:component>\"",
                                 hint='e.g. add = [{ kind = "clean", component = "pii-redact", after = "load" }]')
        try:
            new = StepSpec.model_validate(raw)
        except Exception as exc:  # pydantic's message, one line
            raise WorkbenchError(f"{where}: add: {exc}".splitlines()[0], hint="a step has kind, component, options") from exc
        if new.kind == "evaluate":
            raise WorkbenchError(f"{where}: add: a variant cannot add an evaluate step",
                                 hint="every variant is evaluated by the base pipeline's evaluate step")
        steps.insert(find_step(steps, after, f"{where}: add after") + 1, new)
    for address, options in variant.patches.items():
        i = find_step(steps, address, where)
        _no_evaluate(steps, i, address, where)
        steps[i].options = _merge(steps[i].options, options)
    if variant.data_fraction is not None and variant.data_fraction < 1:
        split = find_step(steps, "split", f"{where}: data_fraction needs a split step;")
        steps.insert(split + 1, StepSpec(kind="subsample", component="subsample",
                                         options={"fraction": variant.data_fraction}))
    if seed is not None:
        train = find_step(steps, "train", f"{where}: seeds set the train step's seed;")
        steps[train].options = {**steps[train].options, "seed": seed}
    _evaluate_grid_trials(steps)
    data = exp.base.model_dump(exclude_none=True)
    data["run"]["name"] = run_name(exp.name, variant.name, seed)
    if variant.description:
        data["run"]["description"] = variant.description
    data["steps"] = [s.model_dump(exclude_none=True) for s in steps]
    rf = parse_runfile(data, base_dir=exp.base.base_dir, source=where)
    check_options(rf, where)
    return rf


def _evaluate_grid_trials(steps: list[StepSpec]) -> None:
    """A variant whose train step searches a grid has its trials evaluated too (each a column of the comparison).

    Only ``grid_trials`` is switched on: the rows and decoding stay those of every other variant.
    """
    if any(s.kind == "train" and s.options.get("grid") for s in steps):
        for s in steps:
            if s.kind == "evaluate" and "grid_trials" not in s.options:
                s.options = {**s.options, "grid_trials": True}


def _merge(options: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Options with ``patch`` applied; nested tables (e.g. decode) merge key by key."""
    out = dict(options)
    for k, v in patch.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def check_options(rf: RunFile, where: str) -> None:
    """Build every step's component with its options: a bad patch fails now, naming the variant and step."""
    from workbench.runtime.discovery import get_host

    registry = get_host().registry
    for i, step in enumerate(rf.steps, start=1):
        try:
            registry.entry(step.family, step.component_name).component(step.options)
        except WorkbenchError as exc:
            raise WorkbenchError(f"{where}: step {i} ({step.kind}:{_component(step)}): {exc}", hint=exc.hint) from exc
