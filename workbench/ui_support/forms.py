"""Option forms generated from a component's pydantic Options JSON schema.

A third-party plugin gets a form for free: :func:`form_fields` turns each
property of ``Component.options_schema()`` (defaults taken from the model) into a :class:`FormField` naming
the widget to draw; :func:`to_options` turns the widget values back into an
options dict and validates it with the component's own model, so the UI and
the run file accept exactly the same values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from workbench.errors import WorkbenchError

#: widget names the pages know how to draw
WIDGETS = ("checkbox", "int", "float", "text", "select", "multiselect", "lines", "json")


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
    kind = prop.get("type")
    if "enum" in prop or "const" in prop:
        return "select"
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


def _defaults(component: type) -> dict[str, Any]:
    """Defaults as values (the schema omits those made by a default factory)."""
    try:
        return component.Options().model_dump(mode="json")
    except ValidationError:  # an option without a default: the schema's defaults are all we have
        return {}


def form_fields(component: type) -> list[FormField]:
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
        fields.append(FormField(name, widget, defaults.get(name, raw.get("default", prop.get("default"))),
                                raw.get("description") or prop.get("description") or "", choices,
                                low, high, nullable))
    return fields


def _from_widget(f: FormField, value: Any) -> Any:
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


def to_options(component: type, values: dict[str, Any]) -> dict[str, Any]:
    """Widget values -> validated options (JSON-ready), or a readable WorkbenchError."""
    fields = {f.name: f for f in form_fields(component)}
    raw = {name: _from_widget(fields[name], v) for name, v in values.items() if name in fields}
    try:
        model = component.Options.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in exc.errors())
        raise WorkbenchError(f"{component.name}: {problems}", hint="fix the highlighted option and try again") from exc
    return model.model_dump(mode="json")


def changed_options(component: type, options: dict[str, Any]) -> dict[str, Any]:
    """Only the options that differ from the defaults (what a run file needs to say)."""
    defaults = _defaults(component)
    return {k: v for k, v in options.items() if k not in defaults or defaults[k] != v}
