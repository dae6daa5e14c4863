"""The template engine: deterministic scenarios from data files, no model.

Each planned slot (a source row of the user's dataset, a partner row, drawn
entities) is written with one of its scenario type's templates, chosen under
the seed among those whose placeholders the slot can fill. References come
from the template (often wrapping the dataset's own answer), so the engine
can write training rows too.
"""

from __future__ import annotations

import random
import re

from pydantic import Field

from workbench.errors import WorkbenchError
from workbench.ledger import Ledger
from workbench.plugins.scenarios.template_files import BUILTIN_DIR, Template, TemplateSet, load_templates
from workbench.scenarios.domain import Domain
from workbench.scenarios.generator import ScenarioEngine, ScenarioOptions, Tick
from workbench.scenarios.plan import Slot
from workbench.scenarios.rows import Candidate, conversation


class TemplateOptions(ScenarioOptions):
    template_dir: str | None = Field(default=None, description="Folder of your own template files (.toml/.json), "
                                                               "read after the built-in ones")
    builtin_templates: bool = Field(default=True, description="Use the built-in templates as well as template_dir")


class TemplateScenarios(ScenarioEngine):
    name = "scenario-templates"
    description = "Scenario conversations from template files, drawn from your dataset's intents, entities and phrasing"
    version = "1"
    engine = "template"
    Options = TemplateOptions

    def template_set(self) -> TemplateSet:
        o = self.options
        folders = [BUILTIN_DIR] if o.builtin_templates else []
        if o.template_dir:
            folders.append(self.resolve(o.template_dir))
        if not folders:
            raise WorkbenchError("no templates: builtin_templates is off and template_dir is empty",
                                 hint="set template_dir or builtin_templates = true")
        return load_templates(folders)

    def draft(self, domain: Domain, slots: list[Slot], ledger: Ledger, tick: Tick) -> list[Candidate]:
        templates = self.template_set()
        system = domain.system_prompt()
        out = []
        for slot in slots:
            rng = random.Random(slot.seed)
            values = {**slot.values(), **{k: rng.choice(v) for k, v in sorted(templates.pools.items()) if v},
                      "request_reworded": reword(slot.source.request, templates.synonyms, rng)}
            usable = [t for t in templates.for_type(slot.scenario)
                      if all(values.get(f) is not None for f in t.fields) and (slot.mode != "train" or t.reference)]
            tick(1)
            if not usable:
                ledger.reject(slot.source.id, "no applicable template",
                              detail={"scenario": slot.scenario, "mode": slot.mode,
                                      "missing": sorted({f for t in templates.for_type(slot.scenario)
                                                         for f in t.fields if values.get(f) is None})})
                continue
            out.append(_candidate(slot, rng.choice(usable), values, slot.source.system or system))
        return out


def _candidate(slot: Slot, template: Template, values: dict, system: str | None) -> Candidate:
    messages = conversation(system, slot.source, sentence(template.user.format_map(values)), history=template.history)
    reference = sentence(template.reference.format_map(values)) if template.reference else None
    return Candidate(slot.scenario, slot.mode, slot.source, messages, reference,
                     {"engine": "template", "template": template.id, "seed": slot.seed,
                      "reference_by": "template" if reference else None})


def sentence(text: str) -> str:
    """Tidy rendered text: single spaces within lines, first letter upper-cased."""
    text = "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in text.strip().split("\n"))
    return text[:1].upper() + text[1:]


def reword(request: str, synonyms: list[list[str]], rng: random.Random) -> str | None:
    """Swap one phrase of ``request`` for another of its synonym group (None if none occurs)."""
    hits = []
    for group in synonyms:
        for phrase in group:
            for m in re.finditer(rf"\b{re.escape(phrase)}\b", request, flags=re.IGNORECASE):
                hits.append((m.start(), m.end(), [p for p in group if p.lower() != phrase.lower()]))
    if not hits:
        return None
    start, end, others = rng.choice(sorted(hits, key=lambda h: (h[0], h[1])))
    new = rng.choice(others)
    if request[start].isupper():
        new = new[:1].upper() + new[1:]
    return request[:start] + new + request[end:]
