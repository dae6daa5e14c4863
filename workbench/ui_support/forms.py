"""Option forms generated from a component's pydantic Options JSON schema.

A third-party plugin gets a form for free: :func:`form_fields` turns each
property of ``Component.options_schema()`` (defaults taken from the model) into a :class:`FormField` naming
the widget to draw; :func:`to_options` turns the widget values back into an
options dict and validates it with the component's own model, so the UI and
the run file accept exactly the same values.

An options model may say more through ``Field(json_schema_extra={...})``:
``group`` (the section a field is drawn in, see :data:`GROUPS`), ``advanced``
(drawn only when the user asks for advanced options), ``when`` (``{"method":
"lora"}`` or ``{"scheduler": ["step"]}``: the field applies only then and is
hidden otherwise) and ``scale = "log"`` (a rate: picked on a log-spaced scale
that cannot reach zero or below). Numeric bounds come from the field's own
constraints (``ge``, ``gt``, ``le``, ``lt``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.components import Component

#: widget names the pages know how to draw ("keyvalue": a table of key / value rows for dicts)
WIDGETS = ("checkbox", "int", "float", "rate", "text", "select", "multiselect", "lines", "json", "keyvalue")
#: sections of a form, in order, with their titles; a field without a group is basic, other group names
#: come after these, titled by their name
GROUPS = {"basic": "Basic", "lora": "LoRA", "optimisation": "Optimisation",
          "evaluation": "Evaluation and early stopping", "checkpoints": "Checkpoints", "advanced": "Advanced"}
#: the values a log-scale field offers (1, 2, 5 per decade), besides its current value
LOG_STEPS = tuple(round(m * 10.0 ** e, 12) for e in range(-7, 1) for m in (1, 2, 5))


@dataclass
class FormField:
    """One option as a widget: its kind, default, help text and limits."""

    name: str
    widget: str
    default: Any
    help: str = ""
    choices: list[Any] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    #: the option accepts null; scalar widgets then use text where empty means null
    nullable: bool = False
    group: str = "basic"
    advanced: bool = False
    #: option -> accepted values; the field applies (and is shown) only when every one holds
    when: dict[str, list[Any]] = field(default_factory=dict)
    #: the bound itself is not allowed (pydantic gt / lt)
    exclusive: tuple[bool, bool] = (False, False)
    #: a dict of text values: key-value cells stay text (not read as numbers or JSON)
    text_values: bool = False

    def applies(self, values: dict[str, Any]) -> bool:
        """Whether the field matters given the other options' values (its ``when`` condition)."""
        return all(values.get(name) in accepted for name, accepted in self.when.items())

    @property
    def step(self) -> float:
        """Step of a number input: 1 for integers; for decimals a tenth of the default's order of magnitude."""
        if self.widget == "int":
            return 1
        size = abs(float(self.default or 0))
        return 10.0 ** (math.floor(math.log10(size)) - 1) if size else 0.01

    def choices_around(self, value: Any) -> list[Any]:
        """A rate's options: the log-spaced steps within bounds, the current value, and null when allowed."""
        inside = [v for v in LOG_STEPS if (self.minimum is None or v > self.minimum or
                                           (v == self.minimum and not self.exclusive[0]))
                  and (self.maximum is None or v < self.maximum or (v == self.maximum and not self.exclusive[1]))]
        values = sorted(set(inside) | ({float(value)} if value is not None else set()))
        return [None, *values] if self.nullable else values

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def initial(self, current: dict[str, Any] | None = None) -> Any:
        """The value to show: the current option value, else the default, in widget form."""
        value = (current or {}).get(self.name, self.default)
        if self.widget == "lines":
            return "\n".join(str(v) for v in value or [])
        if self.widget == "json":
            return json.dumps(value, ensure_ascii=False)
        if self.widget == "text":
            return "" if value is None else str(value)
        if self.widget == "multiselect":
            return [v for v in value or [] if v in self.choices]
        if self.widget == "keyvalue":
            return [{"key": k, "value": _cell(v)} for k, v in (value or {}).items()]
        return value


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Follow ``$ref`` and unwrap ``anyOf [X, null]``; return the schema and whether null is allowed."""
    nullable = False
    options = prop.get("anyOf")
    if options:
        rest = [o for o in options if o.get("type") != "null"]
        nullable = len(rest) < len(options)
        prop = {**prop, **rest[0]} if len(rest) == 1 else {**prop, "type": "json"}
        prop.pop("anyOf", None)
    if "$ref" in prop:
        prop = {**defs.get(prop["$ref"].split("/")[-1], {}), **{k: v for k, v in prop.items() if k != "$ref"}}
    if "allOf" in prop and len(prop["allOf"]) == 1:
        inner, _ = _resolve(prop["allOf"][0], defs)
        prop = {**inner, **{k: v for k, v in prop.items() if k != "allOf"}}
    return prop, nullable


def _widget(prop: dict[str, Any], nullable: bool) -> str:
    kind = prop.get("type") or ""
    if "enum" in prop or "const" in prop:
        return "select"
    if prop.get("scale") == "log" and kind == "number":
        return "rate"
    if kind == "object" and ("properties" in prop or isinstance(prop.get("additionalProperties"), dict)):
        return "keyvalue"
    if kind == "array":
        items = prop.get("items", {})
        if "enum" in items:
            return "multiselect"
        return "lines" if items.get("type", "string") == "string" else "json"
    if kind in ("object", "json") or "properties" in prop:
        return "json"
    if nullable and kind in ("integer", "number", "string"):
        return "text"
    return {"boolean": "checkbox", "integer": "int", "number": "float", "string": "text"}.get(kind, "json")


def _defaults(component: type[Component]) -> dict[str, Any]:
    """Defaults as values (the schema omits those made by a default factory)."""
    try:
        return component.Options().model_dump(mode="json")
    except ValidationError:  # an option without a default: the schema's defaults are all we have
        return {}


def form_fields(component: type[Component]) -> list[FormField]:
    """The widgets of a component's options JSON schema, in declaration order."""
    schema = component.options_schema()
    defaults = _defaults(component)
    defs = schema.get("$defs", {})
    fields = []
    for name, raw in schema.get("properties", {}).items():
        prop, nullable = _resolve(raw, defs)
        widget = _widget(prop, nullable)
        choices = list(prop.get("enum") or ([prop["const"]] if "const" in prop else [])
                       or prop.get("items", {}).get("enum") or [])
        if widget == "select" and nullable:
            choices = [None, *choices]
        low = prop.get("minimum", prop.get("exclusiveMinimum"))
        high = prop.get("maximum", prop.get("exclusiveMaximum"))
        when = {k: v if isinstance(v, list) else [v] for k, v in (raw.get("when") or {}).items()}
        fields.append(FormField(name, widget, defaults.get(name, raw.get("default", prop.get("default"))),
                                raw.get("description") or prop.get("description") or "", choices,
                                low, high, nullable, raw.get("group") or "basic", bool(raw.get("advanced")), when,
                                ("minimum" not in prop and "exclusiveMinimum" in prop,
                                 "maximum" not in prop and "exclusiveMaximum" in prop),
                                (prop.get("additionalProperties") or {}).get("type") == "string"))
    return fields


def _cell(value: Any) -> str:
    """A dict value as the key-value editor shows it: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _parse_cell(text: Any) -> Any:
    """A key-value editor cell back to a value: JSON when it reads as JSON (numbers, lists, ...), else text."""
    text = "" if text is None else str(text).strip()
    for candidate in (text, f"[{text}]") if "," in text and not text.startswith(("[", "{", '"')) else (text,):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return text


def _from_widget(f: FormField, value: Any) -> Any:
    if f.widget == "keyvalue":
        rows = value.to_dict("records") if hasattr(value, "to_dict") else value or []
        return {str(r["key"]).strip(): str(r.get("value") or "") if f.text_values else _parse_cell(r.get("value"))
                for r in rows if r.get("key") is not None and str(r["key"]).strip()}
    if f.widget == "lines":
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]
    if f.widget == "json":
        text = str(value or "").strip()
        if not text:
            return None if f.nullable else f.default
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise WorkbenchError(f"option {f.name}: not valid JSON ({exc.msg})",
                                 hint='write JSON, e.g. {"key": 1} or ["a", "b"]') from exc
    if f.widget == "text" and f.nullable and not str(value).strip():
        return None
    return value


class OptionsError(WorkbenchError):
    """Options that do not validate; ``fields`` maps each failing option to its message ("" for the whole form)."""

    def __init__(self, message: str, fields: dict[str, str], hint: str | None = None):
        super().__init__(message, hint=hint)
        self.fields = fields


def to_options(component: type[Component], values: dict[str, Any]) -> dict[str, Any]:
    """Widget values -> validated options (JSON-ready), or an :class:`OptionsError` naming each bad field."""
    fields = {f.name: f for f in form_fields(component)}
    raw, problems = {}, {}
    for name, v in values.items():
        if name in fields:
            try:
                raw[name] = _from_widget(fields[name], v)
            except WorkbenchError as exc:
                problems[name] = str(exc).removeprefix(f"option {name}: ")
    if not problems:
        try:
            return component.Options.model_validate(raw).model_dump(mode="json")
        except ValidationError as exc:
            for e in exc.errors():
                name = str(e["loc"][0]) if e["loc"] and str(e["loc"][0]) in fields else ""
                problems[name] = "; ".join(filter(None, [problems.get(name), e["msg"].removeprefix("Value error, ")]))
    summary = "; ".join(f"{name.replace('_', ' ') or 'options'}: {msg}" for name, msg in problems.items())
    raise OptionsError(f"{component.name}: {summary}", problems,
                       hint="each option in error says why next to it; fix it and the form validates again")


def changed_options(component: type[Component], options: dict[str, Any]) -> dict[str, Any]:
    """Only the options that differ from the defaults (what a run file needs to say)."""
    defaults = _defaults(component)
    return {k: v for k, v in options.items() if k not in defaults or defaults[k] != v}
