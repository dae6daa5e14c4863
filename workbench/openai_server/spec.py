"""Check recorded exchanges against OpenAI's published OpenAPI spec.

Each exchange names its operation by the spec's path template, so the request
body and the response are validated (JSON Schema 2020-12, references resolved
inside the spec) against exactly the schemas the spec gives that operation;
error responses against ``ErrorResponse``. The spec is large: load it once.

Known quirks of the spec that are allowed rather than reported: a list's
``first_id``/``last_id`` is null when the list is empty (the spec says string).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPEC_URI = "urn:openai-spec"


class SpecChecker:
    """Validates request bodies and responses of recorded exchanges."""

    def __init__(self, path: str | Path) -> None:
        import yaml
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(path, encoding="utf-8") as fh:
            self.spec = yaml.load(fh, Loader=loader)
        self.registry = Registry().with_resource(SPEC_URI, Resource.from_contents(self.spec, DRAFT202012))
        self._validators: dict[str, Any] = {}

    def _validator(self, pointer: str) -> Any:
        from jsonschema import Draft202012Validator

        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=self.registry)
        return self._validators[pointer]

    def _errors(self, pointer: str, instance: Any) -> list[str]:
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in self._validator(pointer).iter_errors(instance)]

    def check(self, exchange: dict[str, Any]) -> list[str]:
        """Problems of one exchange (empty list: conforms)."""
        template, method, status = exchange["template"], exchange["method"].lower(), exchange["status"]
        if template is None:
            return [f"{method.upper()} {exchange['path']}: not an operation of the spec"]
        operation = self.spec["paths"].get(template, {}).get(method)
        if operation is None:
            return [f"{method.upper()} {template}: not in the spec"]
        where = f"/paths/{_escape(template)}/{method}"
        problems = []
        body = (operation.get("requestBody") or {}).get("content", {})
        request = exchange["request"]
        if request is not None:
            ctype = "multipart/form-data" if "multipart/form-data" in body else "application/json"
            if ctype not in body:
                problems.append(f"{method.upper()} {template}: the spec defines no request body")
            else:
                pointer = f"{where}/requestBody/content/{_escape(ctype)}/schema"
                problems += [f"request: {p}" for p in self._errors(pointer, request)]
        response = exchange["response"]
        if status >= 400:
            problems += [f"error response: {p}" for p in self._errors("/components/schemas/ErrorResponse", response)]
        elif str(status) not in operation["responses"]:
            problems.append(f"{method.upper()} {template}: status {status} not in the spec")
        elif isinstance(response, (dict, list)):
            pointer = f"{where}/responses/{status}/content/application~1json/schema"
            response = _allow_quirks(response)
            problems += [f"response: {p}" for p in self._errors(pointer, response)]
        return [f"{method.upper()} {exchange['path']} -> {status}: {p}" for p in problems]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _allow_quirks(response: Any) -> Any:
    if isinstance(response, dict) and response.get("object") == "list" and not response.get("data"):
        return {k: v for k, v in response.items() if not (k in ("first_id", "last_id") and v is None)} | (
            {"first_id": "", "last_id": ""} if "first_id" in response else {})
    return response
