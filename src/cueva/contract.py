"""The alignment contract (``cueva.yaml``): plain data both department heads sign.

Validated once at load by pydantic models with ``extra="forbid"``; every error names the
file, the line and the key path, and suggests the nearest valid key for a typo.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
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


#: Languages the contract's own text can be translated into (the report languages).
TextLanguage = Literal["en", "es"]


class _Text(_Model):
    """The contract's text for one item in another language (see ``translations``)."""

    @field_validator("*")
    @classmethod
    def _not_blank(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            raise ValueError("a translation must not be blank; leave the key out instead")
        return v.strip() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _some_text(self) -> _Text:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            fields = " or ".join(f"'{name}'" for name in type(self).model_fields)
            raise ValueError(f"a translation needs {fields}")
        return self


class StageText(_Text):
    """A stage's label and description in another language."""

    label: str | None = Field(None, description="Display name in that language.")
    description: str | None = Field(None, description="What the stage means, in that language.")


class ServiceLevelText(_Text):
    """A service level's name and promise in another language."""

    label: str | None = Field(
        None, description="Display name in that language (by default the service level's name)."
    )
    description: str | None = Field(None, description="The promise, in that language.")


class GlossaryText(_Text):
    """A glossary term's name and definition in another language."""

    label: str | None = Field(
        None, description="Display name in that language (by default the metric's name)."
    )
    definition: str | None = Field(None, description="The definition, in that language.")


_TRANSLATIONS_DOC = (
    "The text in other report languages, by language code (en, es), e.g. "
    "{es: {label: ..., description: ...}}; a text left out falls back to the contract's own."
)


def _in(translations: Mapping[Any, _Text], lang: str | None, key: str, default: str) -> str:
    """The translation's ``key`` in ``lang``, else ``default`` (the contract's own text)."""
    text = translations.get(lang) if lang is not None else None
    value = getattr(text, key, None) if text is not None else None
    return value if isinstance(value, str) else default


class StageEntry(_Model):
    """What marks entry into a stage: stage events with one of ``events`` as their stage name,
    and/or a timestamp or date column ``field`` (``table.column``), optionally only for rows
    where the boolean column ``where`` is true and, with ``filter``, whose columns hold one of
    the listed values (e.g. only new business: ``filter: {type: [new]}``)."""

    events: list[str] = Field(default_factory=list, description="Stage event names (aliases).")
    field: str | None = Field(
        None, description="table.column whose value is the entry time, e.g. people.created_at."
    )
    where: str | None = Field(None, description="Boolean column that must be true, e.g. is_won.")
    filter: dict[str, list[str | None]] | None = Field(
        None,
        description="Column -> allowed values of the entity's table (null: no value), "
        "e.g. {type: [new]} for new business only.",
    )
    entity: Literal["person", "opportunity"] | None = Field(
        None, description="Entity of the stage events; by default person, or the field's table."
    )

    @model_validator(mode="after")
    def _check(self) -> StageEntry:
        if not self.events and not self.field:
            raise ValueError("a stage entry needs 'events', 'field' or both")
        for column, values in (self.filter or {}).items():
            if not values:
                raise ValueError(f"filter {column!r} lists no values")
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
    entry: StageEntry = Field(description="What marks entry into the stage.")
    translations: dict[TextLanguage, StageText] = Field(
        default_factory=dict, description=_TRANSLATIONS_DOC
    )

    @property
    def display(self) -> str:
        return self.label or self.name

    def label_in(self, lang: str | None) -> str:
        """The display name in ``lang`` (the contract's own label when not translated)."""
        return _in(self.translations, lang, "label", self.display)

    def description_in(self, lang: str | None) -> str:
        return _in(self.translations, lang, "description", self.description)


class Funnel(_Model):
    stages: list[Stage] = Field(min_length=2, description="Ordered stages, person stages first.")
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


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_tz(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        from zoneinfo import available_timezones

        close = difflib.get_close_matches(v, sorted(available_timezones()), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown timezone {v!r} (use an IANA name such as Europe/Madrid){hint}"
        ) from exc
    return v


class HolidaySource(_Model):
    """Public holidays from the ``holidays`` package, by country and region."""

    country: str = Field(description="ISO 3166 country code, e.g. ES, US, DE.")
    subdivision: str | None = Field(
        None, description="Region code of the ``holidays`` package, e.g. MD (Madrid), CA."
    )

    @model_validator(mode="after")
    def _known(self) -> HolidaySource:
        import holidays

        supported = holidays.list_supported_countries()
        if self.country not in supported:
            close = difflib.get_close_matches(self.country.upper(), list(supported), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown holiday country {self.country!r}{hint}")
        subs = supported[self.country]
        if self.subdivision is not None and self.subdivision not in subs:
            raise ValueError(
                f"unknown subdivision {self.subdivision!r} for {self.country}; "
                f"known: {', '.join(subs[:30])}{' ...' if len(subs) > 30 else ''}"
            )
        return self


class BusinessCalendar(_Model):
    """When a team works: days, hours and holidays, in its own timezone."""

    timezone: str | None = Field(
        None, description="IANA timezone of the team; by default the contract's timezone."
    )
    working_days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS[:5]),
        min_length=1,
        description="Working weekdays: mon, tue, wed, thu, fri, sat, sun.",
    )
    hours: str = Field(
        "09:00-18:00", description="Opening hours on a working day, HH:MM-HH:MM (24:00 allowed)."
    )
    holidays: HolidaySource | None = Field(
        None, description="Public holidays by country and region (the holidays package)."
    )
    extra_holidays: list[date] = Field(
        default_factory=list, description="More closed dates, e.g. 2026-12-24 (company days)."
    )
    teams: list[Team] = Field(
        default_factory=list,
        description="Teams that work on this calendar (only in 'calendars').",
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else _check_tz(v)

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        m = _HOURS.match(v.replace(" ", ""))
        if not m:
            raise ValueError(f"hours must look like 09:00-18:00, got {v!r}")
        open_min = int(m.group(1)) * 60 + int(m.group(2))
        close_min = int(m.group(3)) * 60 + int(m.group(4))
        if close_min > 24 * 60 or close_min <= open_min:
            raise ValueError(f"hours must close after they open, got {v!r}")
        return v.replace(" ", "")

    @property
    def open_minutes(self) -> tuple[int, int]:
        """(opening, closing) as minutes after midnight."""
        a, b = self.hours.split("-")
        return (int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:]))


class GlossaryTerm(_Model):
    """One metric both teams use, in plain words, and what it drives on the way to revenue."""

    name: str = Field(description="Metric name, the same everywhere (e.g. mqls, win_rate).")
    definition: str = Field(description="What it means and how it is computed, in plain words.")
    unit: str | None = Field(None, description="count, percent, money, hours, ...")
    owner: Team | None = Field(None, description="Team that owns the metric.")
    feeds: list[str] = Field(
        default_factory=list,
        description="Glossary metrics this one drives (its parents in the tree); the tree "
        "ends in revenue or profit.",
    )
    translations: dict[TextLanguage, GlossaryText] = Field(
        default_factory=dict, description=_TRANSLATIONS_DOC
    )

    def label_in(self, lang: str | None) -> str:
        """The metric's display name in ``lang`` (its name when not translated)."""
        return _in(self.translations, lang, "label", self.name)

    def definition_in(self, lang: str | None) -> str:
        return _in(self.translations, lang, "definition", self.definition)


#: Roots of the glossary tree: every metric must lead to one of them.
GLOSSARY_ROOTS = ("revenue", "profit")

SlaKind = Literal[
    "volume",
    "quality",
    "response_time",
    "coverage",
    "feedback",
    "win_rate",
    "pipeline_created",
    "revenue",
]
Period = Literal["week", "month", "quarter"]

#: Kinds whose value is a share (0..1); the others are counts or money.
SHARE_KINDS = ("quality", "response_time", "coverage", "feedback", "win_rate")
#: Kinds whose value accumulates over a period (a count or a sum of money).
CUMULATIVE_KINDS = ("volume", "pipeline_created", "revenue")
#: Kinds with a per-lead detail (breaching leads).
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "volume": (),
    "quality": ("within_days",),
    "response_time": ("within_hours",),
    "coverage": ("within_business_days",),
    "feedback": (),
    "win_rate": (),
    "pipeline_created": (),
    "revenue": (),
}
_WINDOW_FIELDS = ("within_days", "within_hours", "within_business_days")


class ServiceLevel(_Model):
    """What one team owes another, measured per period."""

    name: str = Field(description="Short id (lowercase, digits, _), e.g. mql_volume.")
    kind: SlaKind = Field(
        description="volume, quality, response_time, coverage, feedback, win_rate, "
        "pipeline_created or revenue."
    )
    giver: Team = Field(description="Team that owes the service level (and owns it).")
    receiver: Team = Field(description="Team that receives it.")
    description: str = Field("", description="The promise in plain words.")
    comparison: Literal[">=", "<="] = Field(
        ">=", description="How the actual compares with the target to be met."
    )
    target: float | Literal["plan"] = Field(
        description="A number (a count, money) or a share such as 0.8 or '80%'; 'plan' takes "
        "the period's value from 'targets' (volume, pipeline_created, revenue, win_rate)."
    )
    period: Period = Field("month", description="week, month or quarter.")
    stage: str = Field("mql", description="Stage whose entries are measured (lead stages).")
    accepted_stage: str = Field("sql", description="quality: the stage that means accepted.")
    within_days: float | None = Field(
        None, gt=0, description="quality: accepted within this many calendar days."
    )
    within_hours: float | None = Field(
        None, gt=0, description="response_time: first human contact within N business hours."
    )
    within_business_days: int | None = Field(
        None, ge=0, description="coverage: any follow-up within N business days."
    )
    rejected_events: list[str] = Field(
        default_factory=lambda: ["rejected"],
        description="feedback: stage event names that mean sales rejected the lead.",
    )
    reason_field: str = Field(
        "stage_events.reason",
        description="feedback: column holding the rejection reason (stage_events.<col> or "
        "people.<col>).",
    )
    segment: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Filters on people columns (lead kinds) or opportunities columns (outcome "
        "kinds), e.g. {segment: enterprise} or {channel: [events, webinar]}.",
    )
    calendar: str | None = Field(
        None, description="Name of a calendar in 'calendars'; by default the giver's calendar."
    )
    translations: dict[TextLanguage, ServiceLevelText] = Field(
        default_factory=dict, description=_TRANSLATIONS_DOC
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"name must be lowercase letters, digits and _, got {v!r}")
        return v

    @field_validator("target", mode="before")
    @classmethod
    def _percent(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().endswith("%"):
            try:
                return float(v.strip()[:-1]) / 100
            except ValueError:
                raise ValueError(
                    f"target must be a number, a percent or 'plan', got {v!r}"
                ) from None
        return v

    @field_validator("reason_field")
    @classmethod
    def _reason(cls, v: str) -> str:
        table, _, column = v.partition(".")
        if table not in ("stage_events", "people") or not column:
            raise ValueError(f"reason_field must be stage_events.<col> or people.<col>, got {v!r}")
        return v

    @model_validator(mode="after")
    def _fields_for_kind(self) -> ServiceLevel:
        needed = _KIND_FIELDS[self.kind]
        for f in needed:
            if getattr(self, f) is None:
                raise ValueError(f"a {self.kind} service level needs '{f}'")
        for f in _WINDOW_FIELDS:
            if f not in needed and getattr(self, f) is not None:
                raise ValueError(f"'{f}' does not apply to a {self.kind} service level")
        if isinstance(self.target, (float, int)):
            if self.kind in SHARE_KINDS and not 0 <= self.target <= 1:
                raise ValueError(
                    f"a {self.kind} target is a share between 0 and 1 (or '80%'), got {self.target}"
                )
            if self.target < 0:
                raise ValueError("target must not be negative")
        elif self.kind not in ("volume", "pipeline_created", "revenue", "win_rate"):
            raise ValueError(f"target 'plan' does not apply to a {self.kind} service level")
        return self

    def label_in(self, lang: str | None) -> str:
        """The display name in ``lang`` (the service level's name when not translated)."""
        return _in(self.translations, lang, "label", self.name)

    def description_in(self, lang: str | None) -> str:
        return _in(self.translations, lang, "description", self.description)

    @property
    def is_share(self) -> bool:
        return self.kind in SHARE_KINDS

    @property
    def plan_metric(self) -> str:
        """The 'targets' entry that a ``target: plan`` reads."""
        return {
            "volume": f"{self.stage}s",
            "pipeline_created": "pipeline",
            "revenue": "revenue",
            "win_rate": "win_rate",
        }.get(self.kind, self.kind)


class PeriodTargets(_Model):
    """The agreed numbers for one period (a month such as 2026-05 or a quarter 2026-Q2)."""

    revenue: float | None = Field(None, ge=0, description="Won revenue (money).")
    pipeline: float | None = Field(None, ge=0, description="Pipeline created (money).")
    mqls: float | None = Field(None, ge=0, description="MQLs delivered (count).")
    sqls: float | None = Field(None, ge=0, description="SQLs accepted (count).")
    opportunities: float | None = Field(None, ge=0, description="Opportunities created (count).")
    deals_won: float | None = Field(None, ge=0, description="Deals won (count).")
    win_rate: float | None = Field(None, ge=0, le=1, description="Won / closed deals (share).")
    spend: float | None = Field(None, ge=0, description="Marketing spend (money).")

    def get(self, metric: str) -> float | None:
        value = getattr(self, metric, None)
        return None if value is None else float(value)


class WebhookChannel(_Model):
    """A Slack-compatible incoming webhook; the URL is a secret read from the environment."""

    url_env: str = Field(description="Name of the environment variable holding the URL.")


class EmailChannel(_Model):
    """E-mail over SMTP; the password is read from the environment."""

    host: str = Field(description="SMTP server host.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 TLS).")
    sender: str = Field(description="From address.")
    to: list[str] = Field(min_length=1, description="Recipients.")
    username: str | None = Field(None, description="SMTP login user, if any.")
    password_env: str | None = Field(
        None, description="Name of the environment variable holding the SMTP password."
    )
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls, tls (implicit, port 465) or none (local relays)."
    )


class Notifications(_Model):
    """Where ``cueva check --notify`` sends breaches."""

    webhook: WebhookChannel | None = None
    email: EmailChannel | None = None
    retries: int = Field(3, ge=0, le=10, description="Extra attempts after a failure.")
    backoff_seconds: float = Field(
        2.0, ge=0, description="Wait before the first retry; doubles for each next one."
    )
    timeout_seconds: float = Field(10.0, gt=0, description="Network timeout per attempt.")


class Signature(_Model):
    """One head's approval of one version of the terms."""

    team: Team
    name: str
    terms_hash: str = Field(description="sha256 of the terms signed (see 'cueva contract sign').")
    signed_at: datetime


class Contract(_Model):
    company: str = Field(description="Company name shown in reports.")
    currency: str = Field("EUR", min_length=3, max_length=3, description="ISO 4217 code.")
    timezone: str = Field("UTC", description="IANA timezone of the business, e.g. Europe/Madrid.")
    fiscal_year_start: int = Field(1, ge=1, le=12, description="Month the fiscal year starts.")
    language: Literal["en", "es"] = Field("en", description="Report language.")
    funnel: Funnel = Field(description="The stages every lead and deal moves through.")
    attribution: AttributionSettings = Field(
        default_factory=lambda: AttributionSettings.model_validate({}),
        description="How channels and campaigns get credit (see docs/attribution.md).",
    )
    glossary: list[GlossaryTerm] = Field(
        default_factory=list, description="Metrics in plain words, in a tree ending in revenue."
    )
    calendar: BusinessCalendar = Field(
        default_factory=lambda: BusinessCalendar.model_validate({}),
        description="The default business calendar.",
    )
    calendars: dict[str, BusinessCalendar] = Field(
        default_factory=dict,
        description="Calendars per team or region that differ from the default, by name.",
    )
    service_levels: list[ServiceLevel] = Field(
        default_factory=list, description="What each team owes the other."
    )
    targets: dict[str, PeriodTargets] = Field(
        default_factory=dict, description="Agreed numbers per period: 2026-05, 2026-Q2, ..."
    )
    notifications: Notifications | None = Field(
        None, description="Channels for 'cueva check --notify'."
    )
    signatures: list[Signature] = Field(
        default_factory=list, description="Written by 'cueva contract sign'; do not edit."
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_tz(v)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if not v.isalpha():
            raise ValueError(f"currency must be a 3-letter ISO 4217 code, got {v!r}")
        return v.upper()

    @field_validator("targets")
    @classmethod
    def _target_periods(cls, v: dict[str, PeriodTargets]) -> dict[str, PeriodTargets]:
        for key in v:
            if not _PERIOD_KEY.match(str(key)):
                raise ValueError(
                    f"target period {key!r} must be a month (2026-05) or a quarter (2026-Q2)"
                )
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> Contract:
        stages = {s.name for s in self.funnel.stages}
        names = [s.name for s in self.service_levels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            i = names.index(dupes[0], names.index(dupes[0]) + 1)
            raise ValueError(
                f"@service_levels.{i}.name: service level names must be unique; "
                f"repeated: {', '.join(dupes)}"
            )
        for i, sla in enumerate(self.service_levels):
            for key in ("stage", "accepted_stage"):
                st = getattr(sla, key)
                if st not in stages:
                    close = difflib.get_close_matches(st, sorted(stages), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise ValueError(
                        f"@service_levels.{i}.{key}: unknown stage {st!r} (stages: "
                        f"{', '.join(s.name for s in self.funnel.stages)}){hint}"
                    )
            if sla.calendar is not None and sla.calendar not in self.calendars:
                raise ValueError(
                    f"@service_levels.{i}.calendar: no calendar named {sla.calendar!r} in "
                    "'calendars'"
                )
        seen_teams: dict[str, str] = {}
        for cname, cal in self.calendars.items():
            for team in cal.teams:
                if team in seen_teams:
                    raise ValueError(
                        f"@calendars.{cname}.teams: team {team!r} is in two calendars: "
                        f"{seen_teams[team]} and {cname}"
                    )
                seen_teams[team] = cname
        _check_glossary(self.glossary)
        return self

    # ------------------------------------------------------------------ helpers

    def calendar_for(self, team: str | None = None, name: str | None = None) -> BusinessCalendar:
        """The calendar named ``name``, else the one listing ``team``, else the default;
        its timezone defaults to the contract's."""
        cal = self.calendar
        if name is not None:
            cal = self.calendars[name]
        elif team is not None:
            for c in self.calendars.values():
                if team in c.teams:
                    cal = c
                    break
        if cal.timezone is None:
            cal = cal.model_copy(update={"timezone": self.timezone})
        return cal

    def service_level(self, name: str) -> ServiceLevel:
        for s in self.service_levels:
            if s.name == name:
                return s
        raise ContractError(
            f"no service level named {name!r}; the contract has: "
            + (", ".join(s.name for s in self.service_levels) or "none")
        )


_PERIOD_KEY = re.compile(r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")


def _check_glossary(terms: list[GlossaryTerm]) -> None:
    if not terms:
        return
    names = [t.name for t in terms]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        i = names.index(dupes[0], names.index(dupes[0]) + 1)
        raise ValueError(
            f"@glossary.{i}.name: glossary names must be unique; repeated: {', '.join(dupes)}"
        )
    known = set(names)
    for i, t in enumerate(terms):
        for j, parent in enumerate(t.feeds):
            if parent not in known:
                close = difflib.get_close_matches(parent, sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"@glossary.{i}.feeds.{j}: {t.name!r} feeds unknown metric {parent!r}{hint}"
                )
    roots = [n for n in GLOSSARY_ROOTS if n in known]
    if not roots:
        raise ValueError("the glossary must define 'revenue' or 'profit' (the tree's roots)")
    parents = {t.name: t.feeds for t in terms}
    for i, t in enumerate(terms):
        if t.name in GLOSSARY_ROOTS:
            continue
        if not t.feeds:
            raise ValueError(
                f"@glossary.{i}: {t.name!r} feeds nothing; say which metric it drives (the tree "
                "ends in revenue or profit)"
            )
    # every chain must end in a root, without cycles
    state: dict[str, int] = {}

    def reaches_root(name: str, trail: tuple[str, ...]) -> bool:
        if name in GLOSSARY_ROOTS:
            return True
        if name in trail:
            raise ValueError(
                f"@glossary.{names.index(name)}.feeds: the glossary has a cycle: "
                + " -> ".join((*trail, name))
            )
        if name in state:
            return bool(state[name])
        ok = any(reaches_root(p, (*trail, name)) for p in parents[name])
        state[name] = int(ok)
        return ok

    for i, t in enumerate(terms):
        if not reaches_root(t.name, ()):
            raise ValueError(f"@glossary.{i}.feeds: {t.name!r} never leads to revenue or profit")


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
    dict_key_next = False
    for part in path:
        if isinstance(part, int):
            continue
        if dict_key_next:  # the key of a mapping such as targets: {2026-05: ...}
            dict_key_next = False
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        dict_key_next = getattr(field.annotation, "__origin__", None) is dict
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
        # a bad mapping key (e.g. translations: {de: ...}) is located at the key itself
        loc = tuple(p for p in err["loc"] if p != "[key]")
        msg = err["msg"]
        if msg.startswith("Value error, @"):
            # a cross-field check names the exact key path: "@service_levels.2.stage: ..."
            where_path, _, rest = msg[len("Value error, @") :].partition(": ")
            loc = (*loc, *(int(x) if x.isdigit() else x for x in where_path.split(".")))
            msg = "Value error, " + rest
        path = ".".join(str(p) for p in loc) or "(top level)"
        line = None
        probe = loc
        while probe and line is None:
            line = lines.get(probe)
            probe = probe[:-1]
        where = f"line {line}, " if line else ""
        if err["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            msg = "unknown key"
            if parent is not None:
                close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1)
                if close:
                    msg += f"; did you mean {close[0]!r}?"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "literal_error":
            allowed = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
            close = difflib.get_close_matches(str(err.get("input")), allowed, n=1)
            msg = f"{err.get('input')!r} is not one of: {', '.join(allowed)}"
            if close:
                msg += f"; did you mean {close[0]!r}?"
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
      # New business only: expansions and renewals have no leads (null: a deal without a type).
      entry: {{field: opportunities.created_at, filter: {{type: [new, null]}}}}
    - name: won
      label: Closed won
      owner: sales
      description: A deal the customer signed.
      # Win rate, deal size, sales cycle and open pipeline count the deals this filter keeps.
      entry: {{field: opportunities.close_date, where: is_won, filter: {{type: [new, null]}}}}

# When each team works. Business-hours service levels count only these hours.
calendar:
  working_days: [mon, tue, wed, thu, fri]
  hours: "09:00-18:00"
  holidays: {{country: ES, subdivision: MD}}   # the holidays package: country and region
  extra_holidays: []                          # company days off, e.g. 2026-12-24
# Teams or regions that work differently get their own calendar:
# calendars:
#   sales_us: {{timezone: America/New_York, holidays: {{country: US}}, teams: [sales_us]}}

# What each team owes the other, measured every period ('cueva scorecard', 'cueva check').
service_levels:
  - name: mql_volume
    kind: volume
    giver: marketing
    receiver: sales
    description: Marketing delivers at least 100 MQLs a month.
    target: 100
    period: month
  - name: mql_acceptance
    kind: quality
    giver: marketing
    receiver: sales
    description: At least 50% of MQLs are accepted by sales (reach SQL) within 14 days.
    within_days: 14
    target: 50%
  - name: response_time
    kind: response_time
    giver: sales
    receiver: marketing
    description: Sales makes the first human contact within 4 business hours of the MQL.
    within_hours: 4
    target: 90%
  - name: follow_up
    kind: coverage
    giver: sales
    receiver: marketing
    description: Every MQL gets some follow-up within 2 business days.
    within_business_days: 2
    target: 95%

# Agreed numbers per period (month 2026-05 or quarter 2026-Q2): revenue, pipeline, mqls,
# sqls, opportunities, deals_won, win_rate, spend.
targets: {{}}

# Metrics in plain words and what each drives, in a tree that ends in revenue and profit.
glossary:
  - name: revenue
    unit: money
    owner: shared
    definition: Amount of deals won in the period.
  - name: profit
    unit: money
    owner: shared
    definition: Gross margin of deals won in the period.
  - name: pipeline
    unit: money
    owner: sales
    definition: Amount of opportunities created in the period.
    feeds: [revenue]
  - name: win_rate
    unit: percent
    owner: sales
    definition: Deals won divided by deals closed (won or lost) in the period.
    feeds: [revenue]
  - name: mqls
    unit: count
    owner: marketing
    definition: Leads that entered the MQL stage in the period.
    feeds: [pipeline]

# Where 'cueva check --notify' sends breaches. Secrets stay in environment variables.
# notifications:
#   webhook: {{url_env: CUEVA_SLACK_WEBHOOK}}
#   email: {{host: smtp.example.com, port: 587, sender: cueva@example.com,
#           to: [heads@example.com], username: cueva, password_env: CUEVA_SMTP_PASSWORD}}
"""


def contract_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``cueva.yaml`` (for editors: yaml-language-server)."""
    schema = Contract.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Cueva alignment contract (cueva.yaml)"
    return schema


def starter_contract(company: str) -> str:
    return STARTER_CONTRACT.format(company=yaml.safe_dump(company, default_style='"').strip())


# --------------------------------------------------------------------------- sign-off

#: Sidecar file beside cueva.yaml with a copy of every signed version of the terms.
SIGNED_TERMS_FILE = "cueva.signed.json"

#: Sections that are not terms: changing them does not make signatures stale.
NOT_TERMS = ("signatures", "notifications")


def contract_terms(contract: Contract) -> dict[str, Any]:
    """The terms both heads sign: the validated contract without its signatures and its
    notification settings, as plain JSON data. Comments and formatting do not count, and
    neither do values left at their defaults (so a new optional key in a later Cueva version
    does not make every signature stale)."""
    data: dict[str, Any] = contract.model_dump(
        mode="json", exclude=set(NOT_TERMS), exclude_defaults=True
    )
    return data


def terms_hash(contract: Contract) -> str:
    """sha256 of the canonical JSON of :func:`contract_terms`."""
    text = json.dumps(contract_terms(contract), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SignatureStatus:
    team: str
    name: str
    signed_at: datetime
    terms_hash: str
    current: bool  # signed the terms as they are now


def signature_status(contract: Contract) -> list[SignatureStatus]:
    """The latest signature of each team, and whether it covers the current terms."""
    now = terms_hash(contract)
    latest: dict[str, Signature] = {}
    for sig in contract.signatures:
        if sig.team not in latest or sig.signed_at >= latest[sig.team].signed_at:
            latest[sig.team] = sig
    return [
        SignatureStatus(s.team, s.name, s.signed_at, s.terms_hash, s.terms_hash == now)
        for s in sorted(latest.values(), key=lambda s: s.team)
    ]


def is_signed(contract: Contract, teams: tuple[str, ...] = ("marketing", "sales")) -> bool:
    """True when every team in ``teams`` signed the current terms."""
    current = {s.team for s in signature_status(contract) if s.current}
    return all(t in current for t in teams)


def _replace_block(text: str, key: str, value: Any, comment: str = "") -> str:
    """``text`` with the top-level ``key:`` block replaced by ``value`` (YAML), keeping every
    other line and comment as it is; appended at the end when the key is absent."""
    dumped = yaml.safe_dump(
        {key: value}, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if re.match(rf"^{re.escape(key)}\s*:", ln)), None)
    if start is None:
        tail = "" if not text or text.endswith("\n") else "\n"
        head = f"\n{comment}\n" if comment else "\n"
        return text + tail + head + dumped
    end = start + 1
    while end < len(lines) and not re.match(r"^[^\s#-]", lines[end]):  # "- " items belong
        end += 1
    while end > start + 1 and (
        not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
    ):
        end -= 1
    return "".join(lines[:start]) + dumped + "".join(lines[end:])


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(f"{path}: no contract found (run 'cueva init' first)") from None


def sign_contract(path: Path, team: str, name: str, now: datetime | None = None) -> SignatureStatus:
    """Record that ``name`` approved the current terms for ``team``.

    The signature (team, name, sha256 of the terms, time) is written into the contract's
    ``signatures:`` section, and a copy of the signed terms into ``cueva.signed.json`` beside
    it, so ``diff_since_signed`` can show what changed later.
    """
    if not team.strip() or not name.strip():
        raise ContractError("a signature needs a team and a name")
    text = _read(path)
    contract = parse_contract(text, str(path))
    known = {s.owner for s in contract.funnel.stages} | {
        t for sla in contract.service_levels for t in (sla.giver, sla.receiver)
    }
    if team not in known:
        close = difflib.get_close_matches(team, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ContractError(
            f"team {team!r} is not named in the contract (teams: {', '.join(sorted(known))}){hint}"
        )
    digest = terms_hash(contract)
    when = (now or datetime.now()).replace(microsecond=0)
    sig = Signature(team=team, name=name.strip(), terms_hash=digest, signed_at=when)
    sigs = [s.model_dump(mode="json") for s in contract.signatures] + [sig.model_dump(mode="json")]
    new_text = _replace_block(
        text, "signatures", sigs, "# Written by 'cueva contract sign': who approved which terms."
    )
    parse_contract(new_text, str(path))  # never write a file that does not load
    copies = _signed_copies(path)
    copies[digest] = {"signed_at": when.isoformat(), "terms": contract_terms(contract)}
    _atomic_write(path.with_name(SIGNED_TERMS_FILE), json.dumps(copies, indent=1, sort_keys=True))
    _atomic_write(path, new_text)
    return SignatureStatus(team, sig.name, when, digest, True)


def _signed_copies(path: Path) -> dict[str, Any]:
    side = path.with_name(SIGNED_TERMS_FILE)
    if not side.exists():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(
            f"{side}: not valid JSON ({exc}); restore it from version control"
        ) from None
    if not isinstance(data, dict):
        raise ContractError(f"{side}: expected a JSON object of signed versions")
    return data


@dataclass(frozen=True)
class TermChange:
    path: str  # dotted key path, e.g. service_levels.mql_volume.target
    change: Literal["added", "removed", "changed"]
    before: Any
    after: Any


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        if not value and prefix:
            out[prefix] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif (
        isinstance(value, list)
        and value
        and all(isinstance(x, dict) and "name" in x for x in value)
    ):
        for x in value:  # named items (stages, service levels, glossary) diff by name
            out.update(_flatten(x, f"{prefix}.{x['name']}"))
    else:
        out[prefix] = value
    return out


@dataclass(frozen=True)
class ContractDiff:
    signed_hash: str | None  # the last signed version compared with (None: never signed)
    signed_at: datetime | None
    current_hash: str
    changes: list[TermChange]

    @property
    def unchanged(self) -> bool:
        return self.signed_hash == self.current_hash


def diff_since_signed(path: Path) -> ContractDiff:
    """What changed in the terms since the most recently signed version."""
    contract = parse_contract(_read(path), str(path))
    now = terms_hash(contract)
    if not contract.signatures:
        return ContractDiff(None, None, now, [])
    last = max(contract.signatures, key=lambda s: s.signed_at)
    if last.terms_hash == now:
        return ContractDiff(now, last.signed_at, now, [])
    copies = _signed_copies(path)
    if last.terms_hash not in copies:
        raise ContractError(
            f"no copy of the signed terms {last.terms_hash[:12]} in "
            f"{path.with_name(SIGNED_TERMS_FILE)}; cannot show what changed (sign again to "
            "start a new baseline)"
        )
    old = _flatten(copies[last.terms_hash]["terms"])
    new = _flatten(contract_terms(contract))
    changes: list[TermChange] = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes.append(TermChange(key, "removed", old[key], None))
        elif key not in old:
            changes.append(TermChange(key, "added", None, new[key]))
        elif old[key] != new[key]:
            changes.append(TermChange(key, "changed", old[key], new[key]))
    return ContractDiff(last.terms_hash, last.signed_at, now, changes)


# --------------------------------------------------------------------------- targets


def write_targets(
    path: Path, targets: dict[str, PeriodTargets | dict[str, float | None]], replace: bool = False
) -> Contract:
    """Write per-period targets back into the contract file (e.g. a saved plan).

    ``targets`` maps period labels (``2026-05``, ``2026-Q2``) to values; by default they are
    merged into the existing ``targets:`` section (a value of None removes that metric),
    with ``replace`` the section is replaced. Other sections and their comments are kept.
    The new file is validated before it is written; changed targets make signatures stale.
    """
    text = _read(path)
    contract = parse_contract(text, str(path))
    merged: dict[str, dict[str, float]] = (
        {} if replace else {k: v.model_dump(exclude_none=True) for k, v in contract.targets.items()}
    )
    for period, values in targets.items():
        given = (
            values.model_dump(exclude_none=True) if isinstance(values, PeriodTargets) else values
        )
        row = merged.setdefault(str(period), {})
        for metric, value in given.items():
            if value is None:
                row.pop(metric, None)
            else:
                row[metric] = float(value)
        if not row:
            merged.pop(str(period))
    new_text = _replace_block(
        text, "targets", dict(sorted(merged.items())), "# Targets per period (month or quarter)."
    )
    updated = parse_contract(new_text, str(path))
    _atomic_write(path, new_text)
    return updated


# --------------------------------------------------------------------------- reference


def _type_name(annotation: Any) -> str:
    text = str(annotation)
    if isinstance(annotation, type):
        text = annotation.__name__
    for prefix in ("typing.", "cueva.contract.", "datetime.", "cueva.attribution.settings."):
        text = text.replace(prefix, "")
    return text.replace("NoneType", "None")


def reference_markdown() -> str:
    """Every key of ``cueva.yaml`` as Markdown tables (one per section), from the models."""
    out: list[str] = []
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[str, type[BaseModel]]] = [("(top level)", Contract)]
    while queue:
        where, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        out.append(f"### `{where}`\n")
        doc = (model.__doc__ or "").strip().split("\n\n")[0]
        if doc and not doc.startswith(("Usage docs", "A base class")):
            out.append(" ".join(doc.split()) + "\n")
        out.append("| key | type | default | meaning |")
        out.append("|---|---|---|---|")
        for name, field in model.model_fields.items():
            if field.is_required():
                default = "required"
            elif field.default_factory is not None:
                value = field.default_factory()  # type: ignore[call-arg]
                if isinstance(value, BaseModel):
                    default = "see below" if type(value).__module__ == __name__ else "see its docs"
                else:
                    default = f"`{json.dumps(value)}`" if value else "empty"
            else:
                default = f"`{json.dumps(field.default)}`" if field.default is not None else "none"
            desc = " ".join((field.description or "").split())
            kind = _type_name(field.annotation).replace("|", "\\|")
            out.append(f"| `{name}` | {kind} | {default} | {desc} |")
            inner = _inner_model(field.annotation)
            if inner is not None and inner.__module__ != __name__:
                continue  # a section documented by its own part (attribution.md)
            if inner is not None and inner not in seen:
                origin = getattr(field.annotation, "__origin__", None)
                suffix = "[]" if origin is list else ".<name>" if origin is dict else ""
                prefix = "" if where == "(top level)" else f"{where}."
                queue.append((f"{prefix}{name}{suffix}", inner))
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- glossary


def glossary_markdown(contract: Contract) -> str:
    """The glossary as a Markdown tree from revenue and profit down to every metric."""
    if not contract.glossary:
        return "_The contract has no glossary yet._\n"
    by_name = {t.name: t for t in contract.glossary}
    children: dict[str, list[str]] = {t.name: [] for t in contract.glossary}
    for t in contract.glossary:
        for parent in t.feeds:
            children[parent].append(t.name)
    out: list[str] = []
    shown: set[str] = set()

    def walk(name: str, depth: int) -> None:
        t = by_name[name]
        pad = "  " * depth
        if name in shown:  # a metric that feeds two parents is spelled out once
            out.append(f"{pad}- **{t.name}** (see above)")
            return
        shown.add(name)
        extra = ", ".join(x for x in (t.unit, f"owner: {t.owner}" if t.owner else None) if x)
        out.append(f"{pad}- **{t.name}**{f' ({extra})' if extra else ''}: {t.definition}")
        for child in children[name]:
            walk(child, depth + 1)

    for root in GLOSSARY_ROOTS:
        if root in by_name:
            walk(root, 0)
    return "\n".join(out) + "\n"


__all__ = [
    "CONTRACT_FILE",
    "GLOSSARY_ROOTS",
    "SIGNED_TERMS_FILE",
    "BusinessCalendar",
    "Contract",
    "ContractDiff",
    "EmailChannel",
    "Funnel",
    "GlossaryTerm",
    "GlossaryText",
    "HolidaySource",
    "Notifications",
    "PeriodTargets",
    "ServiceLevel",
    "ServiceLevelText",
    "Signature",
    "SignatureStatus",
    "Stage",
    "StageEntry",
    "StageText",
    "TermChange",
    "TextLanguage",
    "WebhookChannel",
    "contract_json_schema",
    "contract_terms",
    "diff_since_signed",
    "glossary_markdown",
    "is_signed",
    "load_contract",
    "parse_contract",
    "reference_markdown",
    "sign_contract",
    "signature_status",
    "starter_contract",
    "terms_hash",
    "write_targets",
]
