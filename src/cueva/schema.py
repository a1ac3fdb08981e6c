"""The canonical schema: every table, column, type and key, declared once.

Importers write these tables; metrics read them. Nothing else in Cueva names a source's
column. ``docs/import-format.md`` is generated from this module (``make docs``) and a test
checks that it is current.

Timestamps are stored as wall-clock time in the contract's timezone (naive ``timestamp``);
an input value with a UTC offset is converted to that timezone, one without is taken as
already in it. Dates are calendar dates. Amounts are in the row's ``currency`` (default: the
contract's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "int64", "float64", "boolean", "timestamp", "date"]

#: Ibis type names for each canonical column type.
IBIS_TYPES: dict[ColumnType, str] = {
    "string": "string",
    "int64": "int64",
    "float64": "float64",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
}


#: Words accepted for boolean columns (any case); an empty cell is a missing value.
TRUE_WORDS: tuple[str, ...] = ("true", "t", "1", "yes", "y", "si", "sí", "verdadero", "sim")
FALSE_WORDS: tuple[str, ...] = ("false", "f", "0", "no", "n", "falso", "não", "nao")


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    description: str = ""
    #: Values must be >= 0 (counts, costs, amounts that cannot be negative).
    nonnegative: bool = False
    #: Allowed values (lower case), when the column is an enumeration.
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reference:
    """``column`` holds ids of ``table``'s key; with ``when``, only rows where
    ``when[0] == when[1]`` (e.g. stage events whose entity_type is 'person')."""

    column: str
    table: str
    when: tuple[str, str] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    #: Columns whose values give the table's date range in ``cueva status``.
    time_column: str | None = None
    extra_columns_allowed: bool = True
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, type_: ColumnType = "string", description: str = "", **kw: object) -> Column:
    return Column(name, type_, description=description, **kw)  # type: ignore[arg-type]


def _r(name: str, type_: ColumnType = "string", description: str = "", **kw: object) -> Column:
    return Column(name, type_, required=True, description=description, **kw)  # type: ignore[arg-type]


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "owners",
            "People who own records: sales reps, marketers, managers.",
            (
                _r("owner_id", description="Unique id of the owner."),
                _c("name", description="Display name."),
                _r("team", description="marketing, sales, or another team name."),
                _c("manager_id", description="owner_id of the manager."),
                _c("email"),
            ),
            key=("owner_id",),
            references=(Reference("manager_id", "owners"),),
        ),
        Table(
            "accounts",
            "Companies: customers and prospects.",
            (
                _r("account_id"),
                _c("name"),
                _c("domain"),
                _c("industry"),
                _c("segment", description="e.g. SMB, mid-market, enterprise."),
                _c("country", description="ISO 3166 code or name."),
                _c("employees", "int64", nonnegative=True),
                _c("owner_id", description="Account owner (owners.owner_id)."),
                _c("created_at", "timestamp"),
            ),
            key=("account_id",),
            references=(Reference("owner_id", "owners"),),
            time_column="created_at",
        ),
        Table(
            "people",
            "Leads and contacts: every person who can move through the funnel.",
            (
                _r("person_id"),
                _c("account_id", description="The person's company (accounts.account_id)."),
                _c("email"),
                _r("created_at", "timestamp", "When the person became a lead."),
                _c("lead_source", description="The CRM's lead source field."),
                _c("channel", description="Acquisition channel (e.g. paid_search, events)."),
                _c("owner_id", description="Current owner (owners.owner_id)."),
                _c("segment"),
                _c("country"),
            ),
            key=("person_id",),
            references=(Reference("account_id", "accounts"), Reference("owner_id", "owners")),
            time_column="created_at",
        ),
        Table(
            "stage_events",
            "Entries into funnel stages; stage names are the contract's.",
            (
                _r("entity_type", choices=("person", "opportunity")),
                _r("entity_id", description="person_id or opportunity_id."),
                _r("stage", description="A stage name or alias from the contract."),
                _r("entered_at", "timestamp"),
            ),
            key=("entity_type", "entity_id", "stage", "entered_at"),
            references=(
                Reference("entity_id", "people", when=("entity_type", "person")),
                Reference("entity_id", "opportunities", when=("entity_type", "opportunity")),
            ),
            time_column="entered_at",
        ),
        Table(
            "activities",
            "Sales and marketing activities: calls, e-mails, meetings.",
            (
                _r("activity_id"),
                _c("person_id"),
                _c("opportunity_id"),
                _c("owner_id"),
                _c("type", description="call, email, meeting, ..."),
                _c("is_automated", "boolean", "True for sequences and auto-replies."),
                _r("occurred_at", "timestamp"),
            ),
            key=("activity_id",),
            references=(
                Reference("person_id", "people"),
                Reference("opportunity_id", "opportunities"),
                Reference("owner_id", "owners"),
            ),
            time_column="occurred_at",
        ),
        Table(
            "campaigns",
            "Marketing campaigns, each in one channel.",
            (
                _r("campaign_id"),
                _c("name"),
                _r("channel"),
                _c("type"),
                _c("parent_id", description="campaign_id of the parent campaign."),
                _c("start_date", "date"),
                _c("end_date", "date"),
                _c("budget", "float64", nonnegative=True),
            ),
            key=("campaign_id",),
            references=(Reference("parent_id", "campaigns"),),
            time_column="start_date",
        ),
        Table(
            "spend",
            "Marketing spend, impressions and clicks per day and campaign or channel.",
            (
                _r("date", "date"),
                _c("campaign_id"),
                _c("channel"),
                _r("cost", "float64", nonnegative=True),
                _c("impressions", "int64", nonnegative=True),
                _c("clicks", "int64", nonnegative=True),
                _c("currency"),
            ),
            key=("date", "campaign_id", "channel"),
            references=(Reference("campaign_id", "campaigns"),),
            time_column="date",
        ),
        Table(
            "touchpoints",
            "Marketing interactions of a person or account (ad click, form, event visit, ...).",
            (
                _c(
                    "touchpoint_id",
                    description="Unique id; when empty, one is derived from the row's content.",
                ),
                _c("person_id"),
                _c("account_id"),
                _c("campaign_id"),
                _r("channel"),
                _c("touch_type", description="e.g. impression, click, form, visit, meeting."),
                _r("occurred_at", "timestamp"),
            ),
            key=("touchpoint_id",),
            references=(
                Reference("person_id", "people"),
                Reference("account_id", "accounts"),
                Reference("campaign_id", "campaigns"),
            ),
            time_column="occurred_at",
        ),
        Table(
            "opportunities",
            "Deals: new business, expansion and renewal.",
            (
                _r("opportunity_id"),
                _c("account_id"),
                _c("person_id", description="Primary contact (people.person_id)."),
                _c("owner_id"),
                _c("type", choices=("new", "expansion", "renewal")),
                _r("created_at", "timestamp"),
                _c("close_date", "date", "Expected or actual close date."),
                _c("stage", description="Current CRM stage."),
                _c("is_closed", "boolean"),
                _c("is_won", "boolean"),
                _c("amount", "float64", nonnegative=True),
                _c("gross_margin", "float64", "Gross margin of the deal, in money."),
                _c("currency"),
                _c("lost_reason"),
            ),
            key=("opportunity_id",),
            references=(
                Reference("account_id", "accounts"),
                Reference("person_id", "people"),
                Reference("owner_id", "owners"),
            ),
            time_column="created_at",
        ),
        Table(
            "opportunity_history",
            "Changes of an opportunity's stage, amount or close date.",
            (
                _r("opportunity_id"),
                _r("changed_at", "timestamp"),
                _c("stage"),
                _c("amount", "float64", nonnegative=True),
                _c("close_date", "date"),
            ),
            key=("opportunity_id", "changed_at"),
            references=(Reference("opportunity_id", "opportunities"),),
            time_column="changed_at",
        ),
        Table(
            "subscriptions",
            "Monthly recurring revenue per account.",
            (
                _r("account_id"),
                _r("month", "date", "First day of the month."),
                _r("mrr", "float64", nonnegative=True),
                _c("currency"),
            ),
            key=("account_id", "month"),
            references=(Reference("account_id", "accounts"),),
            time_column="month",
        ),
    )
}

#: Tables in an order in which every reference points to an earlier table (or itself).
LOAD_ORDER: tuple[str, ...] = (
    "owners",
    "accounts",
    "campaigns",
    "people",
    "opportunities",
    "stage_events",
    "activities",
    "spend",
    "touchpoints",
    "opportunity_history",
    "subscriptions",
)


def column_key(name: str) -> str:
    """The name a file's column is known by: case, surrounding spaces and a byte-order mark
    ignored, and runs of characters other than letters and digits turned into ``_``
    (``" Person ID "`` -> ``person_id``). Canonical columns match on it; extra columns are
    stored under it. Empty for a header cell without a name."""
    key = re.sub(r"[\W_]+", "_", name.strip().lstrip("\ufeff").strip().lower())
    return key.strip("_")


def table_for_file(stem: str) -> Table | None:
    """The canonical table a file name designates: the stem itself (``people``), or the stem
    followed by ``_``, ``-`` or ``.`` and anything (``people_2026-05``)."""
    stem = stem.lower()
    if stem in TABLES:
        return TABLES[stem]
    for name in sorted(TABLES, key=len, reverse=True):
        if stem.startswith(name) and stem[len(name)] in "_-.":
            return TABLES[name]
    return None


__all__ = [
    "FALSE_WORDS",
    "IBIS_TYPES",
    "LOAD_ORDER",
    "TABLES",
    "TRUE_WORDS",
    "Column",
    "ColumnType",
    "Reference",
    "Table",
    "column_key",
    "table_for_file",
]
