"""HubSpot CSV exports of contacts, companies and deals -> canonical tables.

Either header style is read: the display labels of the export ("Record ID", "Create Date",
"Lifecycle Stage", "Became a Marketing Qualified Lead Date", "Deal Stage", "Associated
Company IDs", ...) or the API property names (``hs_object_id``, ``createdate``,
``lifecyclestage``, ``hs_lifecyclestage_marketingqualifiedlead_date``, ``dealstage``,
``hs_date_entered_<stage>``, ...). Lifecycle stage dates become person stage events; the
dates deals entered each stage become opportunity history (and stage events for stages the
contract names). Records merged into another (``Merged Record IDs``) point to the survivor.

Files are recognised by name: ``*contact*.csv``, ``*compan*.csv``, ``*deal*.csv``, and
optionally ``*owner*.csv`` and ``fx_rates.csv``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import ibis

from cueva.contract import Contract
from cueva.errors import UsageError
from cueva.sources._core import (
    Build,
    Check,
    Raw,
    SourceSummary,
    add_accounts,
    add_opportunities,
    add_opportunity_events,
    add_referenced_owners,
    apply_map,
    boolean,
    day,
    flag,
    lookup,
    note_sources,
    num,
    run_build,
    ts,
    union_all,
)
from cueva.sources._fx import find_rates_file, read_rates
from cueva.sources._vocab import LIFECYCLE_DATE_LABELS
from cueva.sources.salesforce import value_maps

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cueva.store import Store

ID = ("Record ID", "hs_object_id", "ID de registro", "ID do registro")
CREATED = ("Create Date", "createdate", "created_date", "Fecha de creación", "Data de criação")
OWNER = ("hubspot_owner_id", "owner_id", "Propietario", "Proprietário")
COMPANY_IDS = (
    "Associated Company IDs",
    "Associated Company ID",
    "Associated Company IDs (Primary)",
    "associatedcompanyid",
    "company_id",
    "ID de empresa asociada",
)
CONTACT_IDS = ("Associated Contact IDs", "Associated Contact ID", "contact_id")
MERGED = ("Merged Record IDs", "hs_merged_object_ids", "calculated_merged_vids")
SOURCE = (
    "Original Source",
    "hs_analytics_source",
    "property_hs_analytics_source",
    "Fuente original",
    "Fonte original",
)
LIFECYCLE = (
    "Lifecycle Stage",
    "lifecyclestage",
    "property_lifecyclestage",
    "lifecycle_stage",
    "Etapa del ciclo de vida",
)
DEAL_STAGE = ("Deal Stage", "dealstage", "deal_pipeline_stage_id", "Etapa del negocio")
DEAL_TYPE = ("Deal Type", "dealtype", "deal_type")
AMOUNT = ("Amount", "amount", "Importe", "Valor")
CLOSE_DATE = ("Close Date", "closedate", "closed_date", "Fecha de cierre")
CURRENCY = ("Currency", "deal_currency_code", "Moneda")
EMPLOYEES = ("Number of Employees", "numberofemployees", "number_of_employees")
COUNTRY = ("Country/Region", "country", "País/Región")
COMPANY_NAME = ("Company name", "name", "company_name", "Nombre de la empresa")
EMAIL = ("Email", "email", "Correo")
DOMAIN = ("Company Domain Name", "domain", "Website URL", "website")
KIND_IDS = {
    "contacts": ("contact_id", "Contact ID", "vid"),
    "companies": ("company_id", "Company ID"),
    "deals": ("deal_id", "Deal ID"),
}
LIFECYCLE_DATE = r"(?:property_)?hs_lifecyclestage_([a-z0-9_]+?)_date"
DATE_ENTERED = r"(?:property_)?hs_(?:v2_)?date_entered_([a-z0-9_]+)"
DATE_ENTERED_LABEL = r'date entered "(.+?)(?: \([^()]*\))?"'


def find_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder (expected HubSpot export files)")
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() != ".csv":
            continue
        stem = p.stem.lower()
        for kind, word in (
            ("owners", "owner"),
            ("contacts", "contact"),
            ("companies", "compan"),
            ("deals", "deal"),
        ):
            if word in stem and kind not in found:
                found[kind] = p
                break
    if "contacts" not in found and "deals" not in found:
        raise UsageError(
            f"{folder}: no contacts or deals export here (expected files such as "
            "hubspot-crm-exports-all-contacts.csv, all-deals.csv, all-companies.csv)"
        )
    return found


def _merge_map(build: Build, t: ir.Table) -> ir.Table:
    """(src, dst) for live records and the ids merged into them."""
    live = t.select(src=t.id, dst=t.id)
    merged = t.filter(t.merged.notnull())
    merged = merged.select(dst=merged.id, src=merged.merged.split(";").unnest().strip())
    merged = merged.filter(merged.src != "").select("src", "dst")
    out = build.engine.materialize(live.union(merged), "map")
    ranked = out.mutate(__r=ibis.row_number().over(group_by=out.src, order_by=[out.src == out.dst]))
    return build.engine.materialize(ranked.filter(ranked["__r"] == 0).drop("__r"), "map")


def build_hubspot(
    build: Build,
    folder: Path | None,
    *,
    values: Mapping[str, Mapping[str, str | None]] | None = None,
    store: Store | None = None,
    raws: Mapping[str, Raw] | None = None,
) -> None:
    """Add the canonical tables of a HubSpot export folder (or of ``raws``: 'contacts',
    'companies', 'deals', 'deal_stages' with deal_id, stage, entered_at) to ``build``."""
    eng = build.engine
    vm = value_maps(values)
    stages = build.stages
    raw: dict[str, Raw] = dict(raws or {})
    rates = None
    if folder is not None:
        for kind, path in find_files(folder).items():
            raw[kind] = Raw(path.name, eng.read_csv(path, path.name))
        rates_file = find_rates_file(folder)
        if rates_file:
            rates = read_rates(build, rates_file)
    build.raws.extend(raw.values())

    def found(kind: str, *spellings: str) -> str | None:
        """The file's own spelling of a column (None when it has none of them)."""
        return raw[kind].name(*spellings) if kind in raw else None

    def hdr(kind: str, *spellings: str) -> str:
        """The file's own spelling of a column, for error messages."""
        return found(kind, *spellings) or spellings[0]

    def alive(r: Raw) -> ir.BooleanValue:
        return ~ibis.coalesce(
            boolean(r.col("is_contact_deleted", "is_deal_deleted", "is_company_deleted")),
            boolean(r.col("Archived", "archived")),
            False,
        )

    def base(kind: str, **cols: Callable[[Raw], ir.Value]) -> ir.Table | None:
        if kind not in raw:
            return None
        r = raw[kind]
        sel: dict[str, ir.Value] = {
            "id": r.col(*ID, *KIND_IDS[kind]),
            "alive": alive(r),
            "merged": r.col(*MERGED),
            **r.book(),
        }
        sel.update({k: f(r) for k, f in cols.items()})
        t = eng.materialize(r.t.select(**sel), kind)
        n = build.count(t.filter(~t.alive))
        if n:
            build.dropped[f"deleted {kind}"] = n
        return t.filter(t.alive)

    company = base(
        "companies",
        name=lambda r: r.col(*COMPANY_NAME),
        domain=lambda r: r.col(*DOMAIN),
        industry=lambda r: r.col("Industry", "industry"),
        country=lambda r: r.col(*COUNTRY),
        employees=lambda r: r.col(*EMPLOYEES),
        owner=lambda r: r.col("Company owner", *OWNER),
        created=lambda r: ts(r.col(*CREATED)),
    )
    contact = base(
        "contacts",
        email=lambda r: r.col(*EMAIL),
        created=lambda r: ts(r.col(*CREATED)),
        created_raw=lambda r: r.col(*CREATED),
        lifecycle=lambda r: r.col(*LIFECYCLE),
        source=lambda r: r.col(*SOURCE),
        owner=lambda r: r.col("Contact owner", *OWNER, "Propietario del contacto"),
        companies=lambda r: r.col(*COMPANY_IDS),
        country=lambda r: r.col(*COUNTRY),
    )
    deal = base(
        "deals",
        name=lambda r: r.col("Deal Name", "dealname", "deal_name"),
        stage=lambda r: r.col(*DEAL_STAGE),
        pipeline=lambda r: r.col("Pipeline", "pipeline", "deal_pipeline_id"),
        amount=lambda r: num(r.col(*AMOUNT)),
        amount_raw=lambda r: r.col(*AMOUNT),
        close=lambda r: day(r.col(*CLOSE_DATE)),
        created=lambda r: ts(r.col(*CREATED)),
        created_raw=lambda r: r.col(*CREATED),
        owner=lambda r: r.col("Deal owner", *OWNER, "Propietario del negocio"),
        companies=lambda r: r.col(*COMPANY_IDS),
        contacts=lambda r: r.col(*CONTACT_IDS),
        currency=lambda r: r.col(*CURRENCY).upper(),
        is_won=lambda r: boolean(r.col("Is Closed Won", "hs_is_closed_won", "is_closed_won")),
        is_closed=lambda r: boolean(r.col("Is Deal Closed?", "hs_is_closed", "is_closed")),
        type=lambda r: r.col(*DEAL_TYPE),
        lost_reason=lambda r: r.col("Closed Lost Reason", "closed_lost_reason"),
    )

    company_ids = _merge_map(build, company) if company is not None else None
    contact_ids = _merge_map(build, contact) if contact is not None else None
    for kind, t in (("companies", company), ("contacts", contact)):
        if t is not None:
            dupes = build.count(t.filter(t.merged.notnull()))
            if dupes:
                build.merged[f"{kind} carrying merged record ids"] = dupes

    def first_company(t: ir.Table, column: str) -> ir.Table:
        """``t`` with ``__company`` (the first associated company id) and ``account_id``."""
        t = t.mutate(__company=t[column].split(";")[0].strip().nullif(""))
        if company_ids is None:
            return t.mutate(account_id=t["__company"])
        return lookup(company_ids, t, "__company", "account_id")

    def company_checks(t: ir.Table) -> list[Check]:
        """Rows of :func:`first_company`'s ``t`` naming a company the export lacks."""
        if company_ids is None:
            return []
        return [
            Check(
                t["__company"].notnull() & t.account_id.isnull(),
                "Associated Company IDs",
                t["__company"],
                "unknown company id",
            )
        ]

    def survivors(t: ir.Table, ids: ir.Table | None) -> ir.Table:
        """Rows whose id is not merged into another row of the same export."""
        if ids is None:
            return t
        merged_away = ids.filter(ids.src != ids.dst).src
        n = build.count(t.filter(t.id.isin(merged_away)))
        if n:
            build.merged["records merged into another (dropped, references redirected)"] = (
                build.merged.get("records merged into another (dropped, references redirected)", 0)
                + n
            )
        return t.filter(~t.id.isin(merged_away))

    # ---------------------------------------------------------------- owners
    owner_refs = [t.select(owner=t.owner) for t in (company, contact, deal) if t is not None]
    if "owners" in raw:
        r = raw["owners"]
        team, _ = vm["department"].apply(r.col("team", "teams", "Team"))
        o = r.t.select(
            owner_id=r.col("id", "owner_id", "Owner ID"),
            name=ibis.coalesce(
                r.col("name", "Name"),
                r.col("firstName", "first_name").concat(" ", r.col("lastName", "last_name")),
            ),
            email=r.col("email", "Email"),
            team=ibis.coalesce(team, r.col("team", "teams", "Team").lower(), ibis.literal("sales")),
            **r.book(),
        )
        build.add("owners", o)
    add_referenced_owners(
        build,
        owner_refs,
        store,
        listed=build.tables["owners"].owner_id if "owners" in raw else None,
        note="{n} owner(s) are not in an owners file nor in the store: added with team "
        "'unassigned' (import owners.csv with their teams to fix)",
        label="(owners referenced by the export)",
    )

    # ---------------------------------------------------------------- accounts
    if company is not None:
        c = survivors(company, company_ids)
        add_accounts(
            build,
            c.rename(website="domain"),
            file=raw["companies"].file,
            src={
                "account_id": found("companies", *ID, *KIND_IDS["companies"]),
                "name": found("companies", *COMPANY_NAME),
                "domain": found("companies", *DOMAIN),
                "industry": found("companies", "Industry", "industry"),
                "country": found("companies", *COUNTRY),
                "employees": found("companies", *EMPLOYEES),
                "owner_id": found("companies", "Company owner", *OWNER),
                "created_at": found("companies", *CREATED),
            },
        )

    # ---------------------------------------------------------------- people
    if contact is not None:
        p = survivors(contact, contact_ids)
        p = first_company(p, "companies")
        p = apply_map(p, vm["channel"], "source", "channel")
        p = apply_map(p, vm["lifecycle_stage"], "lifecycle", "lifecycle")
        p = eng.materialize(p, "people")
        channel, src_unmapped = p["__v_channel"], p["__u_channel"]
        life_unmapped = p["__u_lifecycle"]
        build.add(
            "people",
            p.select(
                person_id=p.id,
                account_id=p.account_id,
                email=p.email,
                created_at=p.created,
                lead_source=p.source,
                channel=channel,
                owner_id=p.owner,
                country=p.country,
                lifecycle_stage=p.lifecycle,
                __file=p["__file"],
                __row=p["__row"],
                **flag(
                    Check(
                        p.created.isnull(),
                        hdr("contacts", *CREATED),
                        p.created_raw,
                        "not a timestamp",
                    ),
                    Check(
                        src_unmapped, hdr("contacts", *SOURCE), p.source, "source with no channel"
                    ),
                    Check(
                        life_unmapped,
                        hdr("contacts", *LIFECYCLE),
                        p.lifecycle,
                        "lifecycle stage not mapped",
                    ),
                    *company_checks(p),
                ),
            ),
        )
        note_sources(
            build,
            "people",
            raw["contacts"].file,
            {
                "person_id": found("contacts", *ID, *KIND_IDS["contacts"]),
                "account_id": found("contacts", *COMPANY_IDS),
                "email": found("contacts", *EMAIL),
                "created_at": found("contacts", *CREATED),
                "lead_source": found("contacts", *SOURCE),
                "owner_id": found("contacts", "Contact owner", *OWNER, "Propietario del contacto"),
                "country": found("contacts", *COUNTRY),
            },
        )
        # Lifecycle stage dates -> person stage events.
        r = raw["contacts"]
        date_cols = r.matching(LIFECYCLE_DATE)
        for label, src_col in r.by_norm.items():
            if label in LIFECYCLE_DATE_LABELS:
                date_cols.setdefault(LIFECYCLE_DATE_LABELS[label], src_col)
                r.used.add(src_col)
        parts = []
        skipped: list[str] = []
        for key, col in sorted(date_cols.items()):
            is_known = key.casefold() in vm["lifecycle_stage"].mapping
            tgt = vm["lifecycle_stage"].mapping.get(key.casefold())
            event = stages.event(tgt, "person") if is_known else None
            if is_known and event is None:
                skipped.append(key)
                continue
            src = r.t.select(
                id=r.col(*ID, "contact_id"), when_raw=r.t[col].strip().nullif(""), **r.book()
            )
            src = src.filter(src.when_raw.notnull())
            src = (
                lookup(contact_ids, src, "id", "pid")
                if contact_ids is not None
                else src.mutate(pid=src.id)
            )
            when = ts(src.when_raw)
            parts.append(
                src.select(
                    entity_type=ibis.literal("person"),
                    entity_id=src.pid,
                    stage=ibis.literal(event or key),
                    entered_at=when,
                    __file=src["__file"],
                    __row=src["__row"],
                    **flag(
                        Check(when.isnull(), col, src.when_raw, "not a timestamp"),
                        Check(
                            ibis.literal(not is_known),
                            col,
                            ibis.literal(key),
                            "lifecycle stage date column not mapped",
                        ),
                    ),
                )
            )
        if skipped:
            build.notes.append(
                "lifecycle stage dates with no person stage in the contract: " + ", ".join(skipped)
            )
        if parts:
            build.add("stage_events", union_all(parts))

    # ---------------------------------------------------------------- opportunities
    if deal is not None:
        d = first_company(deal, "companies")
        d = d.mutate(__contact=d.contacts.split(";")[0].strip().nullif(""))
        if contact_ids is not None:
            d = lookup(contact_ids, d, "__contact", "person_id")
        else:
            d = d.mutate(person_id=d["__contact"])

        def deal_checks(t: ir.Table) -> list[Check]:
            if contact_ids is None:
                return company_checks(t)
            return [
                *company_checks(t),
                Check(
                    t["__contact"].notnull() & t.person_id.isnull(),
                    "Associated Contact IDs",
                    t["__contact"],
                    "unknown contact id",
                ),
            ]

        add_opportunities(
            build,
            d,
            stage_map=vm["deal_stage"],
            type_map=vm["opportunity_type"],
            rates=rates,
            file=raw["deals"].file,
            src={
                "opportunity_id": found("deals", *ID, *KIND_IDS["deals"]),
                "account_id": found("deals", *COMPANY_IDS),
                "person_id": found("deals", *CONTACT_IDS),
                "owner_id": found("deals", "Deal owner", *OWNER),
                "type": found("deals", *DEAL_TYPE),
                "created_at": found("deals", *CREATED),
                "close_date": found("deals", *CLOSE_DATE),
                "stage": found("deals", *DEAL_STAGE),
                "amount": found("deals", *AMOUNT),
                "currency": found("deals", *CURRENCY),
            },
            extras=lambda t: {"pipeline": t.pipeline},
            checks=deal_checks,
            what="deal",
        )
        # Dates each deal entered a stage -> history and opportunity stage events.
        r = raw["deals"]
        long_parts = []
        for key, col in sorted(r.matching(DATE_ENTERED).items()):
            long_parts.append((ibis.literal(key), r.t[col], col, r))
        for label, col in sorted(r.matching(DATE_ENTERED_LABEL).items()):
            long_parts.append((ibis.literal(label), r.t[col], col, r))
        pieces = [
            rr.t.select(
                deal=rr.col(*ID, "deal_id", "Deal ID"),
                stage_raw=key,
                when_raw=val.cast("string").strip().nullif(""),
                source_col=ibis.literal(col),
                **rr.book(),
            )
            for key, val, col, rr in long_parts
        ]
        if "deal_stages" in raw:
            rr = raw["deal_stages"]
            pieces.append(
                rr.t.select(
                    deal=rr.col("deal_id"),
                    stage_raw=rr.col("stage"),
                    when_raw=rr.col("entered_at"),
                    source_col=ibis.literal("deal_stage"),
                    **rr.book(),
                )
            )
        if pieces:
            h = union_all(pieces)
            h = h.filter(h.when_raw.notnull() & h.deal.isin(deal.id))
            h = eng.materialize(h, "history")
            hstage, unmapped = vm["deal_stage"].apply(h.stage_raw)
            when = ts(h.when_raw)
            problems = flag(
                Check(when.isnull(), "date entered", h.when_raw, "not a timestamp"),
                Check(unmapped, "date entered", h.stage_raw, "deal stage not mapped"),
            )
            build.add(
                "opportunity_history",
                h.select(
                    opportunity_id=h.deal,
                    changed_at=when,
                    stage=hstage,
                    __file=h["__file"],
                    __row=h["__row"],
                    **problems,
                ),
            )
            add_opportunity_events(
                build,
                h,
                vm["deal_stage"],
                entity_id=h.deal,
                stage=hstage,
                entered_at=when,
                problems=problems,
            )


def import_hubspot(
    store: Store | None,
    folder: Path | str,
    contract: Contract,
    *,
    values: Mapping[str, Mapping[str, str | None]] | None = None,
    source_timezone: str | None = None,
    dry_run: bool = False,
    quarantine: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> SourceSummary:
    """Import a folder of HubSpot exports. Timestamps without an offset (the display-label
    exports) are read in ``source_timezone`` (default: the contract's)."""
    return run_build(
        "hubspot",
        contract,
        store,
        lambda b: build_hubspot(b, Path(folder), values=values, store=store),
        source_timezone=source_timezone,
        dry_run=dry_run,
        quarantine=quarantine,
        on_step=on_step,
    )


__all__ = ["build_hubspot", "find_files", "import_hubspot"]
