"""Terminology normalisation from a user glossary (whole words, case-aware).

Consistent wording in training answers teaches one house style; the glossary
maps each preferred term to its variants, e.g. ``{"issue": ["bug", "defect"]}``.
A variant is replaced only as a whole word, in the case it was written
(bug -> issue, Bug -> Issue, BUG -> ISSUE); placeholders are never touched.
"""

from __future__ import annotations

import re
from functools import partial

import polars as pl
from pydantic import Field, field_validator

from workbench.components import Options

from .base import Rule, TextCleaner


class TerminologyOptions(Options):
    glossary: dict[str, list[str]] = Field(
        default_factory=dict, description='Preferred term -> variants to replace, e.g. {"issue": ["bug", "defect"]}')
    roles: list[str] = Field(default=["assistant"], description="Roles whose turns are normalised")

    @field_validator("glossary")
    @classmethod
    def _no_cycles(cls, glossary: dict[str, list[str]]) -> dict[str, list[str]]:
        for preferred, variants in glossary.items():
            if any(v.lower() == preferred.lower() for v in variants):
                raise ValueError(f"glossary entry {preferred!r} lists itself as a variant")
            if any(not v.strip() for v in variants):
                raise ValueError(f"glossary entry {preferred!r} has an empty variant")
        return glossary


def _case_forms(variant: str, preferred: str) -> list[tuple[str, str]]:
    """(written form, replacement) for lower, Capitalised and UPPER spellings."""
    forms = {variant.lower(): preferred.lower(),
             variant[:1].upper() + variant[1:].lower(): preferred[:1].upper() + preferred[1:].lower(),
             variant.upper(): preferred.upper()}
    return list(forms.items())


class Terminology(TextCleaner):
    name = "terminology"
    row_wise = True
    description = "Replace glossary variants with the preferred term (whole words, case-aware)"
    Options = TerminologyOptions
    reason = "terminology normalised"

    def roles(self) -> list[str] | None:
        return self.options.roles

    def stages(self) -> list[tuple[str, Rule]]:
        stages: list[tuple[str, Rule]] = []
        for preferred, variants in self.options.glossary.items():
            pairs = [pair for v in variants for pair in _case_forms(v, preferred)]
            stages.append((preferred, partial(_replace_words, pairs=pairs)))
        return stages


def _replace_words(e: pl.Expr, pairs: list[tuple[str, str]]) -> pl.Expr:
    for written, replacement in pairs:
        e = e.str.replace_all(rf"\b{re.escape(written)}\b", replacement.replace("$", "$$"))
    return e
