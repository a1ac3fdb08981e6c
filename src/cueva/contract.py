"""The alignment contract (``cueva.yaml``): plain data both department heads sign.

Validated once at load by pydantic models with ``extra="forbid"``; every error names the
file, the line and the key path, and suggests the nearest valid key for a typo.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cueva.attribution.settings import AttributionSettings
from cueva.errors import ContractError

CONTRACT_FILE = "cueva.yaml"

Team = str  # "marketing", "sales", "shared" or another team named in the contract


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageEntry(_Model):
    """What marks entry into a stage: stage events with one of ``events`` as their stage name,
    and/or a timestamp or date column ``field`` (``table.column``), optionally only for rows
    where the boolean column ``where`` is true."""

    events: list[str] = Field(default_factory=list, description="Stage event names (aliases).")
    field: str | None = Field(
        None, description="table.column whose value is the entry time, e.g. people.created_at."
    )
    where: str | None = Field(None, description="Boolean column that must be true, e.g. is_won.")
    entity: Literal["person", "opportunity"] | None = Field(
        None, description="Entity of the stage events; by default person, or the field's table."
    )

    @model_validator(mode="after")
    def _check(self) -> StageEntry:
        if not self.events and not self.field:
            raise ValueError("a stage entry needs 'events', 'field' or both")
        if self.field is not None:
            table, _, column = self.field.partition(".")
            if table not in ("people", "opportunities") or not column:
                raise ValueError(
                    f"field must be people.<column> or opportunities.<column>, got {self.field!r}"
                )
        return self

    @property
    def entity_type(self) -> Literal["person", "opportunity"]:
        if self.entity is not None:
            return self.entity
        if self.field is not None and self.field.startswith("opportunities."):
            return "opportunity"
        return "person"


class Stage(_Model):
    name: str = Field(description="Short name used everywhere (lead, mql, sql, ...).")
    label: str | None = Field(None, description="Display name, e.g. Marketing Qualified Lead.")
    description: str = Field("", description="What the stage means, in plain words.")
    owner: Team = Field(description="Team that owns the stage: marketing, sales or shared.")
    entry: StageEntry

    @property
    def display(self) -> str:
        return self.label or self.name


class Funnel(_Model):
    stages: list[Stage] = Field(min_length=2)
    conversion_window_days: int = Field(
        90, ge=1, description="N in cohort conversion: reached the next stage within N days."
    )

    @model_validator(mode="after")
    def _unique(self) -> Funnel:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        seen_opp = False
        for s in self.stages:
            if s.entry.entity_type == "opportunity":
                seen_opp = True
            elif seen_opp:
                raise ValueError(
                    f"stage {s.name!r} is a person stage after an opportunity stage; "
                    "person stages come first"
                )
        return self

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise ContractError(
            f"unknown stage {name!r}; the contract's stages are: "
            + ", ".join(s.name for s in self.stages)
        )


class Contract(_Model):
    company: str = Field(description="Company name shown in reports.")
    currency: str = Field("EUR", min_length=3, max_length=3, description="ISO 4217 code.")
    timezone: str = Field("UTC", description="IANA timezone of the business, e.g. Europe/Madrid.")
    fiscal_year_start: int = Field(1, ge=1, le=12, description="Month the fiscal year starts.")
    language: Literal["en", "es"] = Field("en", description="Report language.")
    funnel: Funnel
    attribution: AttributionSettings = Field(default_factory=AttributionSettings)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {v!r} (use an IANA name such as Europe/Madrid)"
            ) from exc
        return v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if not v.isalpha():
            raise ValueError(f"currency must be a 3-letter ISO 4217 code, got {v!r}")
        return v.upper()


# --------------------------------------------------------------------------- loading


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key."""


def _key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each key path to its 1-based line number in ``text``."""
    lines: dict[tuple[str | int, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=_LineLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value
                lines[(*path, key)] = k.start_mark.line + 1
                walk(v, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return lines


def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at ``path`` (for did-you-mean hints)."""
    model: Any = Contract
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def format_validation_error(exc: ValidationError, text: str, source: str) -> str:
    lines = _key_lines(text)
    out = [f"{source}: the contract is not valid"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc) or "(top level)"
        line = None
        probe = loc
        while probe and line is None:
            line = lines.get(probe)
            probe = probe[:-1]
        where = f"line {line}, " if line else ""
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            msg = "unknown key"
            if parent is not None:
                close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1)
                if close:
                    msg += f"; did you mean {close[0]!r}?"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(f"  {where}{path}: {msg}")
    return "\n".join(out)


def parse_contract(text: str, source: str = CONTRACT_FILE) -> Contract:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContractError(f"{source}:{where} not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ContractError(f"{source}: the contract must be a YAML mapping of keys to values")
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        raise ContractError(format_validation_error(exc, text, source)) from None


def load_contract(path: Path) -> Contract:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(f"{path}: no contract found (run 'cueva init' first)") from None
    except UnicodeDecodeError as exc:
        raise ContractError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_contract(text, str(path))


STARTER_CONTRACT = """\
# cueva.yaml: the alignment contract between sales and marketing.
# Both department heads agree on it. Every metric Cueva computes reads it.

company: {company}
currency: EUR              # ISO 4217 code; amounts in other currencies are kept with theirs
timezone: Europe/Madrid    # IANA timezone: timestamps without an offset are read in it
fiscal_year_start: 1       # month the fiscal year starts (1 = January)
language: en               # report language: en or es

funnel:
  # Cohort conversion counts a stage as reached if it happens within this many days.
  conversion_window_days: 90
  # Ordered stages. 'entry' says what marks entering a stage: stage events with one of the
  # listed names, and/or a date column of people or opportunities.
  stages:
    - name: lead
      label: Lead
      owner: marketing
      description: A person we can reach, created in the CRM.
      entry: {{field: people.created_at, events: [lead]}}
    - name: mql
      label: Marketing Qualified Lead
      owner: marketing
      description: A lead that marketing judges ready for sales, by the agreed scoring rule.
      entry: {{events: [mql]}}
    - name: sql
      label: Sales Qualified Lead
      owner: sales
      description: An MQL that sales accepted and will work.
      entry: {{events: [sql]}}
    - name: opportunity
      label: Opportunity
      owner: sales
      description: A qualified deal with an amount and an expected close date.
      entry: {{field: opportunities.created_at}}
    - name: won
      label: Closed won
      owner: sales
      description: A deal the customer signed.
      entry: {{field: opportunities.close_date, where: is_won}}
"""


def starter_contract(company: str) -> str:
    return STARTER_CONTRACT.format(company=yaml.safe_dump(company, default_style='"').strip())


__all__ = [
    "CONTRACT_FILE",
    "Contract",
    "Funnel",
    "Stage",
    "StageEntry",
    "load_contract",
    "parse_contract",
    "starter_contract",
]
