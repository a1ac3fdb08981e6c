"""Warehouse tables through an Ibis backend URL: the final models of Fivetran's
``dbt_salesforce`` and ``dbt_hubspot`` packages.

Read models (any present; others are ignored):

- dbt_salesforce: ``salesforce__opportunity_enhanced`` (opportunities and their accounts),
  ``salesforce__contact_enhanced`` (people);
- dbt_hubspot: ``hubspot__contacts``, ``hubspot__companies``, ``hubspot__deals``,
  ``hubspot__deal_stages`` (the date each deal entered each stage).

The model columns are renamed to the CRM's own field names and go through the same adapter
as the CSV exports (:mod:`cueva.sources.salesforce`, :mod:`cueva.sources.hubspot`), so the
value maps, checks and summary are the same. A DuckDB warehouse file is attached read-only
and read in place. A PostgreSQL schema (``postgresql://USER@HOST/DATABASE/SCHEMA``) is read
by the server: only the needed columns, cast to text and written by ``COPY ... TO STDOUT`` as
CSV into the import's temp folder, which the source engine reads in parallel (no Python row
loop; the source engine cannot scan PostgreSQL in place without DuckDB's postgres extension,
which is downloaded at run time and so not used). Any other backend is queried through Ibis
(only the needed columns) and streamed as Arrow batches into the source engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cueva.contract import Contract
from cueva.errors import StoreError, UsageError
from cueva.sources._core import Build, Raw, SourceSummary, run_build
from cueva.sources._engine import SourceReadError
from cueva.sources.hubspot import build_hubspot
from cueva.sources.salesforce import build_salesforce

if TYPE_CHECKING:
    from cueva.store import Store

#: model -> (adapter object, {model column: adapter column}).
SALESFORCE_MODELS: dict[str, tuple[str, dict[str, str]]] = {
    "salesforce__opportunity_enhanced": (
        "Opportunity",
        {
            "opportunity_id": "Id",
            "opportunity_name": "Name",
            "account_id": "AccountId",
            "contact_id": "ContactId",
            "owner_id": "OwnerId",
            "type": "Type",
            "created_date": "CreatedDate",
            "close_date": "CloseDate",
            "stage_name": "StageName",
            "is_closed": "IsClosed",
            "is_won": "IsWon",
            "amount": "Amount",
            "currency_iso_code": "CurrencyIsoCode",
            "lead_source": "LeadSource",
            "campaign_id": "CampaignId",
            "is_deleted": "IsDeleted",
        },
    ),
    "salesforce__contact_enhanced": (
        "Contact",
        {
            "contact_id": "Id",
            "account_id": "AccountId",
            "email": "Email",
            "lead_source": "LeadSource",
            "owner_id": "OwnerId",
            "contact_owner_id": "OwnerId",
            "mailing_country": "MailingCountry",
            "created_date": "CreatedDate",
            "is_deleted": "IsDeleted",
        },
    ),
}
#: Accounts come from the account columns of the opportunity model.
SALESFORCE_ACCOUNT_COLUMNS = {
    "account_id": "Id",
    "account_name": "Name",
    "industry": "Industry",
    "number_of_employees": "NumberOfEmployees",
    "account_owner_id": "OwnerId",
    "billing_country": "BillingCountry",
}
HUBSPOT_MODELS: dict[str, tuple[str, dict[str, str]]] = {
    "hubspot__contacts": (
        "contacts",
        {
            "contact_id": "contact_id",
            "email": "email",
            "created_date": "createdate",
            "created_at": "createdate",
            "lifecycle_stage": "lifecyclestage",
            "property_lifecyclestage": "lifecyclestage",
            "analytics_source": "hs_analytics_source",
            "property_hs_analytics_source": "hs_analytics_source",
            "owner_id": "hubspot_owner_id",
            "property_hubspot_owner_id": "hubspot_owner_id",
            "associated_company_id": "associatedcompanyid",
            "property_associatedcompanyid": "associatedcompanyid",
            "calculated_merged_vids": "hs_merged_object_ids",
            "is_contact_deleted": "is_contact_deleted",
            "country": "country",
        },
    ),
    "hubspot__companies": (
        "companies",
        {
            "company_id": "company_id",
            "company_name": "name",
            "website": "domain",
            "industry": "industry",
            "country": "country",
            "number_of_employees": "numberofemployees",
            "owner_id": "hubspot_owner_id",
            "created_date": "createdate",
            "is_company_deleted": "is_company_deleted",
        },
    ),
    "hubspot__deals": (
        "deals",
        {
            "deal_id": "deal_id",
            "deal_name": "dealname",
            "deal_pipeline_stage_id": "dealstage",
            "deal_pipeline_id": "pipeline",
            "amount": "amount",
            "property_amount": "amount",
            "closed_date": "closedate",
            "property_closedate": "closedate",
            "created_date": "createdate",
            "property_createdate": "createdate",
            "owner_id": "hubspot_owner_id",
            "company_id": "associatedcompanyid",
            "contact_id": "Associated Contact IDs",
            "deal_currency_code": "deal_currency_code",
            "is_deal_deleted": "is_deal_deleted",
            "deal_type": "dealtype",
        },
    ),
    "hubspot__deal_stages": (
        "deal_stages",
        {"deal_id": "deal_id", "deal_stage_name": "stage", "date_stage_entered": "entered_at"},
    ),
}
_LIFECYCLE_DATE = re.compile(r"(?:property_)?hs_lifecyclestage_[a-z0-9_]+_date")


def _renames(columns: list[str], renames: Mapping[str, str]) -> dict[str, str]:
    """{model column: adapter column} for the columns the model has (first spelling wins)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for src, dst in renames.items():
        if src in columns and dst not in taken:
            out[src] = dst
            taken.add(dst)
    for c in columns:
        if _LIFECYCLE_DATE.fullmatch(c) and c not in out:
            out[c] = c
    return out


class _Reader:
    """Reads warehouse models into the source engine: attached in place for a DuckDB file,
    streamed through Ibis for any other backend."""

    def __init__(self, build: Build, url: str) -> None:
        self.build = build
        self.url = url
        self.ibis: Any = None
        self.pg: Any = None
        self._n = 0
        path = _duckdb_path(url)
        if url.split("://", 1)[0] in ("postgresql", "postgres"):
            from cueva.store.postgres import Warehouse

            try:
                self.pg = Warehouse(url)
            except StoreError as exc:
                raise SourceReadError(str(exc)) from exc
            self.tables = self.pg.tables()
            self.columns = {
                t: self.pg.columns(t)
                for t in self.tables
                if t in SALESFORCE_MODELS or t in HUBSPOT_MODELS
            }
        elif path is not None:
            if not Path(path).is_file():
                raise UsageError(f"{path}: no such DuckDB file")
            self.tables = build.engine.attach(path, "wh")
            self.columns = {
                t: [str(c) for c in build.engine.con.table(t, database=("wh", "main")).columns]
                for t in self.tables
                if t in SALESFORCE_MODELS or t in HUBSPOT_MODELS
            }
        else:
            import ibis

            try:
                self.ibis = ibis.connect(url)
                self.tables = list(self.ibis.list_tables())
            except Exception as exc:  # any backend's connection error, translated once
                raise SourceReadError(f"cannot open the warehouse {url}: {exc}") from exc
            self.columns = {
                t: list(self.ibis.table(t).columns)
                for t in self.tables
                if t in SALESFORCE_MODELS or t in HUBSPOT_MODELS
            }

    def read(self, model: str, renames: Mapping[str, str]) -> Raw:
        cols = _renames(self.columns[model], renames)
        if self.pg is not None:
            engine = self.build.engine
            self._n += 1
            path = engine.workdir / f"warehouse_{self._n}.csv"
            try:
                self.pg.export_csv(model, cols, path)
                t = engine.read_csv(path, model)  # copied into the engine: the file can go
            finally:
                path.unlink(missing_ok=True)
            t = t.mutate(__row=t["__row"] - 1)  # the model's first row is row 1, as attached
        elif self.ibis is None:
            t = self.build.engine.attached_as_text("wh", model, cols)
        else:
            src = self.ibis.table(model)
            expr = src.select(**{dst: src[c].cast("string") for c, dst in cols.items()})
            t = self.build.engine.from_arrow(expr.to_pyarrow_batches())
        return Raw(model, t)

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()


def _duckdb_path(url: str) -> str | None:
    if url.startswith("duckdb://"):
        return url[len("duckdb://") :]
    if "://" not in url and url.endswith((".duckdb", ".db")):
        return url
    return None


def build_warehouse(build: Build, url: str, kind: str = "auto", store: Store | None = None) -> str:
    """Add the canonical tables of the dbt models found at ``url``; returns the kind read."""
    reader = _Reader(build, url)
    try:
        return _build(build, reader, kind, store)
    finally:
        reader.close()


def _build(build: Build, reader: _Reader, kind: str, store: Store | None) -> str:
    sf = [m for m in SALESFORCE_MODELS if m in reader.columns]
    hs = [m for m in HUBSPOT_MODELS if m in reader.columns]
    if kind == "auto":
        kind = "salesforce" if sf and not hs else "hubspot" if hs and not sf else ""
        if not kind:
            raise UsageError(
                "the warehouse has "
                + (
                    "both dbt_salesforce and dbt_hubspot models; choose one with --kind"
                    if sf
                    else "no dbt_salesforce or dbt_hubspot final model (e.g. "
                    "salesforce__opportunity_enhanced, hubspot__contacts, hubspot__deals)"
                )
            )
    if kind == "salesforce":
        if not sf:
            raise UsageError("the warehouse has no dbt_salesforce final model")
        raws = {SALESFORCE_MODELS[m][0]: reader.read(m, SALESFORCE_MODELS[m][1]) for m in sf}
        if "salesforce__opportunity_enhanced" in sf:
            acc = reader.read("salesforce__opportunity_enhanced", SALESFORCE_ACCOUNT_COLUMNS)
            t = acc.t.filter(acc.t["Id"].notnull())
            t = t.distinct(on="Id", keep="first")
            raws["Account"] = Raw("salesforce__opportunity_enhanced (accounts)", t)
            raws["Account"].rows = None
        if "Contact" not in raws:
            raise UsageError(
                "the warehouse has no salesforce__contact_enhanced model: people are needed"
            )
        build_salesforce(build, None, store=store, raws=raws)
    elif kind == "hubspot":
        if not hs:
            raise UsageError("the warehouse has no dbt_hubspot final model")
        raws = {HUBSPOT_MODELS[m][0]: reader.read(m, HUBSPOT_MODELS[m][1]) for m in hs}
        build_hubspot(build, None, store=store, raws=raws)
    else:
        raise UsageError(f"--kind must be auto, salesforce or hubspot, not {kind!r}")
    return kind


def import_warehouse(
    store: Store | None,
    url: str,
    contract: Contract,
    *,
    kind: str = "auto",
    dry_run: bool = False,
    quarantine: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> SourceSummary:
    """Import dbt_salesforce or dbt_hubspot final models from a warehouse (timestamps
    without an offset are taken as UTC, as Fivetran loads them)."""
    return run_build(
        "warehouse",
        contract,
        store,
        lambda b: build_warehouse(b, url, kind, store),
        source_timezone="UTC",
        dry_run=dry_run,
        quarantine=quarantine,
        on_step=on_step,
    )


__all__ = ["HUBSPOT_MODELS", "SALESFORCE_MODELS", "build_warehouse", "import_warehouse"]
