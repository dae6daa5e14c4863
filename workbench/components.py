"""Base classes for everything a plugin can register.

A component is a class with a unique ``name``, a one-line ``description``, a
``version``, a typed ``Options`` model (pydantic: defaults and help text; the
UI renders its form from the JSON schema and run files store its values) and
the operation itself. Instances are built with validated options:
``Cleaner(options)``; the operation works on the whole canonical table (a
polars DataFrame, see :mod:`workbench.schema`) at once, batch-wise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    import polars as pl

    from workbench.context import StepContext
    from workbench.ledger import StepResult


class NoOptions(BaseModel):
    """Options model for components that take none."""

    model_config = ConfigDict(extra="forbid")


class Options(BaseModel):
    """Base for option models: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    #: form hints (:func:`form`) by option name, for models with many options; inherited and merged, and a
    #: field's own ``json_schema_extra`` wins
    form_layout: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON schema with the form hints of :attr:`form_layout` on each property."""
        schema = super().model_json_schema(*args, **kwargs)
        layout = {k: v for c in reversed(cls.__mro__) for k, v in vars(c).get("form_layout", {}).items()}
        unknown = sorted(set(layout) - set(schema.get("properties", {})))
        if unknown:
            raise ValueError(f"{cls.__name__}.form_layout names unknown options: {', '.join(unknown)}")
        for name, hints in layout.items():
            schema["properties"][name] = {**hints, **schema["properties"][name]}
        return schema


def form(group: str | None = None, *, advanced: bool = False, when: dict[str, Any] | None = None,
         scale: str | None = None) -> dict[str, Any]:
    """How the generated UI form draws an option: ``Field(..., json_schema_extra=form("lora", when=...))``.

    ``group``: its section (basic, lora, optimisation, evaluation, checkpoints, advanced); ``advanced``:
    drawn only when the user asks; ``when``: ``{option: value or [values]}`` it applies to (hidden
    otherwise); ``scale="log"``: a rate picked on a log-spaced scale. See docs/plugins.md.
    """
    hints = {"group": group, "advanced": advanced or None, "when": when, "scale": scale}
    return {k: v for k, v in hints.items() if v is not None}


class Component:
    """Shared shape of every registered component."""

    kind: ClassVar[str] = "component"
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    Options: ClassVar[type[BaseModel]] = NoOptions
    #: the validated options, an instance of ``Options`` (typed Any: each subclass has its own fields)
    options: Any

    def __init__(self, options: BaseModel | dict[str, Any] | None = None) -> None:
        if isinstance(options, self.Options):
            self.options = options
            return
        data = options.model_dump() if isinstance(options, BaseModel) else (options or {})
        try:
            self.options = self.Options.model_validate(data)
        except ValidationError as exc:
            from workbench.errors import InvalidOptions
            from workbench.options_error import options_problem

            raise InvalidOptions(f"invalid options for {self.kind} {self.name!r}: {options_problem(exc)}",
                                 hint=f"`workbench plugins --options --json` shows the options of {self.name!r}") from exc

    @classmethod
    def options_schema(cls) -> dict[str, Any]:
        """JSON schema of the options (titles, types, defaults, help text)."""
        return cls.Options.model_json_schema()


class Step(Component):
    """A step of a run: takes the canonical table, returns a StepResult.

    ``run`` must account for every row: rows in + rows added = rows out +
    rows dropped (the engine checks it).
    """

    kind: ClassVar[str] = "step"

    def run(self, table: pl.DataFrame, ctx: StepContext) -> StepResult:
        raise NotImplementedError


class Cleaner(Step):
    """Drops or changes rows; records each drop and change in the ledger."""

    kind: ClassVar[str] = "cleaner"
    #: True when each row's outcome depends on that row alone, so the Ray executor may run the cleaner
    #: unchanged on partitions of the table (docs/scale.md); others run in the driver or on their own
    #: ``run_partitioned(parts, ctx)``
    row_wise: ClassVar[bool] = False


class Augmenter(Step):
    """Adds variant rows (``source_id`` = original id, ``origin`` = name)."""

    kind: ClassVar[str] = "augmenter"


class ScenarioGenerator(Step):
    """Adds generated conversations tagged with ``scenario``/``expected_behavior``."""

    kind: ClassVar[str] = "scenario"


class Trainer(Step):
    """Trains a model from the split table; the model is a step artifact."""

    kind: ClassVar[str] = "trainer"


class Reader(Component):
    """Reads one data format into canonical rows, reporting problems by line."""

    kind: ClassVar[str] = "reader"
    #: file name suffixes this reader claims (lower case, with the dot)
    extensions: ClassVar[tuple[str, ...]] = ()

    def read(self, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def detect(self, sample: Any) -> float:
        """How sure this reader is that it reads the sampled file: 0 (not this format) to 1.

        ``sample`` is a :class:`workbench.io.choose.Sample` (suffix, first
        bytes, first JSON records); the highest score wins.
        """
        return 0.0


class Writer(Component):
    """Writes the canonical table in one data format."""

    kind: ClassVar[str] = "writer"
    extensions: ClassVar[tuple[str, ...]] = ()

    def write(self, table: pl.DataFrame, path: str) -> None:
        raise NotImplementedError


class Metric(Component):
    """Scores model outputs against references (per example and corpus)."""

    kind: ClassVar[str] = "metric"
    #: columns of the evaluation frame this metric needs
    requires: ClassVar[tuple[str, ...]] = ()

    def compute(self, frame: pl.DataFrame) -> Any:
        raise NotImplementedError


#: hook name -> base class every component registered through it must extend
FAMILIES: dict[str, type[Component]] = {
    "register_readers": Reader,
    "register_writers": Writer,
    "register_cleaners": Cleaner,
    "register_augmenters": Augmenter,
    "register_scenario_generators": ScenarioGenerator,
    "register_trainers": Trainer,
    "register_metrics": Metric,
    "register_steps": Step,
}
