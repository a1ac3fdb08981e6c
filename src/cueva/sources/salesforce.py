"""Salesforce CSV exports (Data Loader / Data Export Service: one file per object, API field
names as headers) -> canonical tables.

Objects read (file ``<Object>.csv``, any case): User, Account, Lead, Contact, Opportunity,
OpportunityHistory, Campaign, CampaignMember, Task, Event, and optionally fx_rates.csv or
DatedConversionRate.csv. Only Lead (or Contact) is required.

One person per human: a lead converted into a contact and that contact are one person whose
id is the (earliest) converted lead's Id. Records deleted by a merge (IsDeleted with a
MasterRecordId) point to their master; other deleted records are dropped and counted.
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
    ValueMap,
    add_accounts,
    add_opportunities,
    add_opportunity_events,
    add_referenced_owners,
    apply_map,
    boolean,
    day,
    flag,
    id_map,
    lookup,
    note_sources,
    num,
    run_build,
    ts,
    union_all,
)
from cueva.sources._fx import find_rates_file, read_rates
from cueva.sources._vocab import DEFAULT_MAPS

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cueva.store import Store

OBJECTS = (
    "User",
    "Account",
    "Lead",
    "Contact",
    "Opportunity",
    "OpportunityHistory",
    "Campaign",
    "CampaignMember",
    "Task",
    "Event",
)


def find_objects(folder: Path) -> dict[str, Path]:
    """Export files by object name (``Lead.csv``, ``lead.csv`` or ``Leads.csv``)."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder (expected a Salesforce export folder)")
    by_stem = {p.stem.lower(): p for p in sorted(folder.iterdir()) if p.suffix.lower() == ".csv"}
    found: dict[str, Path] = {}
    for obj in OBJECTS:
        for stem in (obj.lower(), obj.lower() + "s"):
            if stem in by_stem:
                found[obj] = by_stem[stem]
                break
    if "Lead" not in found and "Contact" not in found:
        raise UsageError(
            f"{folder}: no Lead.csv or Contact.csv here (expected Salesforce export files "
            "named after their objects: Lead.csv, Contact.csv, Opportunity.csv, ...)"
        )
    return found


def value_maps(values: Mapping[str, Mapping[str, str | None]] | None) -> dict[str, ValueMap]:
    values = values or {}
    unknown = sorted(set(values) - set(DEFAULT_MAPS))
    if unknown:
        raise UsageError(
            f"unknown value map(s) {', '.join(unknown)}; known: {', '.join(sorted(DEFAULT_MAPS))}"
        )
    return {k: ValueMap(k, v).updated(values.get(k)) for k, v in DEFAULT_MAPS.items()}


def _alive(r: Raw) -> ir.BooleanValue:
    return ~boolean(r.col("IsDeleted")).fill_null(False)


def build_salesforce(
    build: Build,
    folder: Path | None,
    *,
    values: Mapping[str, Mapping[str, str | None]] | None = None,
    stage_dates: Mapping[str, str] | None = None,
    store: Store | None = None,
    raws: Mapping[str, Raw] | None = None,
) -> None:
    """Add the canonical tables of the export in ``folder`` (or of ``raws``, by object name,
    e.g. warehouse tables renamed to API field names) to ``build``."""
    eng = build.engine
    vm = value_maps(values)
    stages = build.stages
    raw: dict[str, Raw] = dict(raws or {})
    rates = None
    if folder is not None:
        for obj, path in find_objects(folder).items():
            raw[obj] = Raw(path.name, eng.read_csv(path, path.name))
        rates_file = find_rates_file(folder)
        rates = read_rates(build, rates_file) if rates_file else None
    build.raws.extend(raw.values())

    def base(obj: str, **cols: Callable[[Raw], ir.Value]) -> ir.Table | None:
        """Materialise the columns an object needs, with id, deleted flag and master."""
        if obj not in raw:
            return None
        r = raw[obj]
        sel: dict[str, ir.Value] = {
            "id": r.col("Id"),
            "alive": _alive(r),
            "master": r.col("MasterRecordId"),
            **r.book(),
        }
        sel.update({k: f(r) for k, f in cols.items()})
        return eng.materialize(r.t.select(**sel), obj.lower())

    def hdr(obj: str, *spellings: str) -> str | None:
        """The export's own spelling of a column of ``obj`` (None when absent)."""
        return raw[obj].name(*spellings) if obj in raw else None

    def dropped(t: ir.Table | None, what: str) -> None:
        if t is None:
            return
        got = eng.con.execute(
            t.aggregate(
                n=(~t.alive & t.master.isnull()).sum(), m=(~t.alive & t.master.notnull()).sum()
            )
        ).iloc[0]
        n, m = int(got["n"] or 0), int(got["m"] or 0)
        if n:
            build.dropped[f"deleted {what}"] = build.dropped.get(f"deleted {what}", 0) + n
        if m:
            build.merged[f"merged {what} (pointed to their master record)"] = m

    # ---------------------------------------------------------------- raw objects
    date_cols = dict(stage_dates or {})
    lead = base(
        "Lead",
        email=lambda r: r.col("Email"),
        created=lambda r: ts(r.col("CreatedDate")),
        created_raw=lambda r: r.col("CreatedDate"),
        status=lambda r: r.col("Status"),
        source=lambda r: r.col("LeadSource"),
        owner=lambda r: r.col("OwnerId"),
        country=lambda r: r.col("Country"),
        company=lambda r: r.col("Company"),
        converted=lambda r: boolean(r.col("IsConverted")).fill_null(False),
        conv_date=lambda r: ts(r.col("ConvertedDate")),
        conv_contact=lambda r: r.col("ConvertedContactId"),
        conv_account=lambda r: r.col("ConvertedAccountId"),
        conv_opp=lambda r: r.col("ConvertedOpportunityId"),
        **{
            f"d_{stage}": (lambda c: lambda r: ts(r.col(c)))(col)
            for stage, col in date_cols.items()
        },
    )
    contact = base(
        "Contact",
        email=lambda r: r.col("Email"),
        created=lambda r: ts(r.col("CreatedDate")),
        created_raw=lambda r: r.col("CreatedDate"),
        source=lambda r: r.col("LeadSource"),
        owner=lambda r: r.col("OwnerId"),
        country=lambda r: r.col("MailingCountry"),
        account=lambda r: r.col("AccountId"),
    )
    account = base(
        "Account",
        name=lambda r: r.col("Name"),
        website=lambda r: r.col("Website"),
        industry=lambda r: r.col("Industry"),
        country=lambda r: r.col("BillingCountry"),
        employees=lambda r: r.col("NumberOfEmployees"),
        owner=lambda r: r.col("OwnerId"),
        created=lambda r: ts(r.col("CreatedDate")),
        segment=lambda r: r.col("Segment__c", "Type"),
    )
    opp = base(
        "Opportunity",
        name=lambda r: r.col("Name"),
        account=lambda r: r.col("AccountId"),
        contact=lambda r: r.col("ContactId"),
        owner=lambda r: r.col("OwnerId"),
        type=lambda r: r.col("Type"),
        created=lambda r: ts(r.col("CreatedDate")),
        created_raw=lambda r: r.col("CreatedDate"),
        close=lambda r: day(r.col("CloseDate")),
        stage=lambda r: r.col("StageName"),
        is_closed=lambda r: boolean(r.col("IsClosed")),
        is_won=lambda r: boolean(r.col("IsWon")),
        amount=lambda r: num(r.col("Amount")),
        amount_raw=lambda r: r.col("Amount"),
        currency=lambda r: r.col("CurrencyIsoCode").upper(),
        source=lambda r: r.col("LeadSource"),
        campaign=lambda r: r.col("CampaignId"),
        lost_reason=lambda r: r.col("Loss_Reason__c", "LossReason", "Lost_Reason__c"),
    )
    user = base(
        "User",
        name=lambda r: ibis.coalesce(
            r.col("Name"), r.col("FirstName").concat(" ", r.col("LastName"))
        ),
        email=lambda r: r.col("Email"),
        manager=lambda r: r.col("ManagerId"),
        department=lambda r: r.col("Department"),
    )
    campaign = base(
        "Campaign",
        name=lambda r: r.col("Name"),
        type=lambda r: r.col("Type"),
        parent=lambda r: r.col("ParentId"),
        start=lambda r: day(r.col("StartDate")),
        end=lambda r: day(r.col("EndDate")),
        budget=lambda r: num(r.col("BudgetedCost")),
        owner=lambda r: r.col("OwnerId"),
    )
    for t, what in (
        (lead, "leads"),
        (contact, "contacts"),
        (account, "accounts"),
        (opp, "opportunities"),
        (campaign, "campaigns"),
    ):
        dropped(t, what)

    # ---------------------------------------------------------------- identities
    def lead_person(t: ir.Table) -> ir.Table:
        """Live leads ``t`` with ``pid``, their person: the head lead of the contact they were
        converted into, else themselves (a join with the small head table, not the id map)."""
        assert head is not None
        j = t.left_join(head, t.conv_contact == head.contact)
        return j.select(*[j[c] for c in t.columns], pid=ibis.coalesce(j.lead, j.id))

    # A converted lead's contact is the same person: its id is the earliest such lead.
    person_pairs: list[tuple[ir.Table, str]] = []
    dead_people: list[ir.Table] = []
    head = None
    if lead is not None:
        conv = lead.filter(lead.alive & lead.converted & lead.conv_contact.notnull())
        ranked = conv.mutate(
            __rank=ibis.row_number().over(
                group_by=conv.conv_contact, order_by=[conv.created, conv.id]
            )
        )
        head = eng.materialize(
            ranked.filter(ranked["__rank"] == 0).select(
                contact=ranked.conv_contact, lead=ranked.id
            ),
            "head",
        )
        lj = lead_person(lead.filter(lead.alive))
        person_pairs.append((lj.select(id=lj.id, pid=lj.pid), "pid"))
        dead_people.append(lead.filter(~lead.alive & lead.master.notnull()))
    if contact is not None:
        cj = contact.filter(contact.alive)
        if head is not None:
            cj = cj.left_join(head, cj.id == head.contact).select(
                id=cj.id, pid=ibis.coalesce(head.lead, cj.id)
            )
        else:
            cj = cj.select(id=cj.id, pid=cj.id)
        person_pairs.append((cj, "pid"))
        dead_people.append(contact.filter(~contact.alive & contact.master.notnull()))
    people_ids = id_map(build, person_pairs, dead_people)

    account_ids = None
    if account is not None:
        a = account.filter(account.alive).select(id=account.id, dst=account.id)
        account_ids = id_map(
            build, [(a, "dst")], [account.filter(~account.alive & account.master.notnull())]
        )

    def account_of(t: ir.Table, column: str) -> tuple[ir.Table, list[Check]]:
        if account_ids is None:
            return t.mutate(account_id=ibis.null("string")), []
        t = lookup(account_ids, t, column, "account_id")
        return t, [
            Check(
                t[column].notnull() & t.account_id.isnull(),
                "AccountId",
                t[column],
                "unknown account id (not in Account.csv, or deleted)",
            )
        ]

    # ---------------------------------------------------------------- owners
    if user is not None:
        u = user.filter(user.alive)
        team, _ = vm["department"].apply(u.department)
        build.add(
            "owners",
            u.select(
                owner_id=u.id,
                name=u.name,
                team=ibis.coalesce(team, u.department.lower(), ibis.literal("unassigned")),
                manager_id=u.manager,
                email=u.email,
                __file=u["__file"],
                __row=u["__row"],
            ),
        )
        note_sources(
            build,
            "owners",
            raw["User"].file,
            {
                "owner_id": hdr("User", "Id"),
                "manager_id": hdr("User", "ManagerId"),
                "email": hdr("User", "Email"),
                "team": hdr("User", "Department"),
            },
        )
    refs = [
        t.select(owner=t.owner) for t in (lead, contact, account, opp, campaign) if t is not None
    ]
    for obj in ("Task", "Event"):
        if obj in raw:
            r = raw[obj]
            refs.append(r.t.select(owner=r.col("OwnerId")))
    add_referenced_owners(
        build,
        refs,
        store,
        listed=user.id if user is not None else None,
        note="{n} owner id(s) are not in User.csv nor in the store (queues or missing users): "
        "added as owners with team 'unassigned'",
        label="(owner ids referenced by the export)",
    )

    # ---------------------------------------------------------------- accounts
    if account is not None:
        add_accounts(
            build,
            account.filter(account.alive),
            file=raw["Account"].file,
            src={
                "account_id": hdr("Account", "Id"),
                "name": hdr("Account", "Name"),
                "domain": hdr("Account", "Website"),
                "industry": hdr("Account", "Industry"),
                "segment": hdr("Account", "Segment__c", "Type"),
                "country": hdr("Account", "BillingCountry"),
                "employees": hdr("Account", "NumberOfEmployees"),
                "owner_id": hdr("Account", "OwnerId"),
                "created_at": hdr("Account", "CreatedDate"),
            },
        )

    # ---------------------------------------------------------------- people
    people_parts: list[ir.Table] = []
    if lead is not None:
        lh = lead.filter(lead.alive)
        lh = lead_person(lh)
        lh = lh.filter(lh.pid == lh.id)
        if contact is not None:
            c = contact.select(
                c_id=contact.id,
                c_email=contact.email,
                c_account=contact.account,
                c_owner=contact.owner,
            )
            lh = lh.left_join(c, lh.conv_contact == c.c_id).select(
                *[lh[x] for x in lh.columns], c.c_email, c.c_account, c.c_owner
            )
            acct_src = ibis.coalesce(lh.conv_account, lh.c_account)
            email = ibis.coalesce(lh.email, lh.c_email)
            owner = ibis.coalesce(lh.c_owner, lh.owner)
        else:
            acct_src = lh.conv_account
            email = lh.email
            owner = lh.owner
        lh = lh.mutate(__acct=acct_src, __email=email, __owner=owner)
        lh, acct_checks = account_of(lh, "__acct")
        lh = apply_map(lh, vm["channel"], "source", "channel")
        channel, unmapped = lh["__v_channel"], lh["__u_channel"]
        acct_checks = (
            [
                Check(
                    lh["__acct"].notnull() & lh.account_id.isnull(),
                    "ConvertedAccountId",
                    lh["__acct"],
                    "unknown account id (not in Account.csv, or deleted)",
                )
            ]
            if acct_checks
            else []
        )
        people_parts.append(
            lh.select(
                person_id=lh.id,
                account_id=lh.account_id,
                email=lh["__email"],
                created_at=lh.created,
                lead_source=lh.source,
                channel=channel,
                owner_id=lh["__owner"],
                country=lh.country,
                company=lh.company,
                crm_object=ibis.literal("Lead"),
                __file=lh["__file"],
                __row=lh["__row"],
                **flag(
                    Check(lh.created.isnull(), "CreatedDate", lh.created_raw, "not a timestamp"),
                    Check(unmapped, "LeadSource", lh.source, "lead source with no channel"),
                    *acct_checks,
                ),
            )
        )
    if contact is not None:
        ch = contact.filter(contact.alive)
        ch = lookup(people_ids, ch, "id", "pid")
        ch = ch.filter(ch.pid == ch.id)
        ch, acct_checks = account_of(ch, "account")
        ch = apply_map(ch, vm["channel"], "source", "channel")
        channel, unmapped = ch["__v_channel"], ch["__u_channel"]
        acct_checks = (
            [
                Check(
                    ch.account.notnull() & ch.account_id.isnull(),
                    "AccountId",
                    ch.account,
                    "unknown account id (not in Account.csv, or deleted)",
                )
            ]
            if acct_checks
            else []
        )
        people_parts.append(
            ch.select(
                person_id=ch.id,
                account_id=ch.account_id,
                email=ch.email,
                created_at=ch.created,
                lead_source=ch.source,
                channel=channel,
                owner_id=ch.owner,
                country=ch.country,
                company=ibis.null("string"),
                crm_object=ibis.literal("Contact"),
                __file=ch["__file"],
                __row=ch["__row"],
                **flag(
                    Check(ch.created.isnull(), "CreatedDate", ch.created_raw, "not a timestamp"),
                    Check(unmapped, "LeadSource", ch.source, "lead source with no channel"),
                    *acct_checks,
                ),
            )
        )
    for p in people_parts:
        build.add("people", p)
    for obj, cols in (
        (
            "Lead",
            {"email": ("Email",), "country": ("Country",), "account_id": ("ConvertedAccountId",)},
        ),
        (
            "Contact",
            {"email": ("Email",), "country": ("MailingCountry",), "account_id": ("AccountId",)},
        ),
    ):
        if obj in raw:
            note_sources(
                build,
                "people",
                raw[obj].file,
                {
                    "person_id": hdr(obj, "Id"),
                    "created_at": hdr(obj, "CreatedDate"),
                    "lead_source": hdr(obj, "LeadSource"),
                    "owner_id": hdr(obj, "OwnerId"),
                    **{k: hdr(obj, *v) for k, v in cols.items()},
                },
            )
    if person_pairs:
        pairs = union_all(p.select(id=p.id, pid=p.pid) for p, _ in person_pairs)
        n_merged = build.count(pairs.filter(pairs.id != pairs.pid))
        if n_merged:
            build.merged["lead/contact records merged into one person (converted leads)"] = n_merged

    # Person stage events from lead status.
    if lead is not None:
        lv = lead.filter(lead.alive)
        lv = lead_person(lv)
        lv = apply_map(lv, vm["lead_status"], "status", "status")
        target, unmapped = lv["__v_status"], lv["__u_status"]
        events = {
            str(t): stages.event(t, "person")
            for t in set(vm["lead_status"].mapping.values())
            if t is not None
        }
        skipped = sorted(t for t, e in events.items() if e is None)
        if skipped:
            build.notes.append(
                "lead status target(s) "
                + ", ".join(skipped)
                + " are not person stages of the contract: no stage events for them"
            )
        status_events = {t: e for t, e in events.items() if e is not None}
        event = (
            target.substitute(status_events, else_=ibis.null("string"))
            if status_events
            else ibis.null("string")
        )
        dated = [
            (event == stages.event(stage, "person"), lv[f"d_{stage}"])
            for stage in date_cols
            if stages.event(stage, "person")
        ]
        first_event = stages.event(stages.first, "person")
        when = ibis.cases(
            (event == first_event, lv.created),
            *dated,
            else_=ibis.null("timestamp('UTC')"),
        )
        when = ibis.coalesce(when, ibis.ifelse(lv.converted, lv.conv_date, lv.created), lv.created)
        ev = lv.select(
            entity_type=ibis.literal("person"),
            entity_id=lv.pid,
            stage=event,
            entered_at=when,
            __file=lv["__file"],
            __row=lv["__row"],
            __unmapped=unmapped,
            __status=lv.status,
        )
        ev = eng.materialize(ev.filter(ev.stage.notnull() | ev["__unmapped"]), "events")
        build.add(
            "stage_events",
            ev.mutate(
                **flag(
                    Check(ev["__unmapped"], "Status", ev["__status"], "lead status with no stage")
                )
            ).drop("__unmapped", "__status"),
        )
        if not date_cols:
            build.notes.append(
                "lead stage events are dated at conversion (converted leads) or creation; "
                "give --stage-date STAGE=Field__c for a field that holds a stage's date"
            )

    # ---------------------------------------------------------------- campaigns
    campaign_channel = None
    if campaign is not None:
        cm = campaign.filter(campaign.alive)
        channel, unmapped = vm["campaign_type"].apply(cm.type)
        cm = cm.mutate(channel=channel, __unmapped=unmapped)
        cm = eng.materialize(cm, "campaign")
        campaign_channel = cm.select(cid=cm.id, cchannel=cm.channel)
        build.add(
            "campaigns",
            cm.select(
                campaign_id=cm.id,
                name=cm.name,
                channel=cm.channel,
                type=cm.type,
                parent_id=cm.parent,
                start_date=cm.start,
                end_date=cm.end,
                budget=cm.budget,
                __file=cm["__file"],
                __row=cm["__row"],
                **flag(
                    Check(cm.type.isnull(), "Type", cm.type, "campaign without a Type (channel)"),
                    Check(cm["__unmapped"], "Type", cm.type, "campaign type with no channel"),
                ),
            ),
        )
        note_sources(
            build,
            "campaigns",
            raw["Campaign"].file,
            {
                "campaign_id": hdr("Campaign", "Id"),
                "name": hdr("Campaign", "Name"),
                "channel": hdr("Campaign", "Type"),
                "parent_id": hdr("Campaign", "ParentId"),
                "start_date": hdr("Campaign", "StartDate"),
                "end_date": hdr("Campaign", "EndDate"),
                "budget": hdr("Campaign", "BudgetedCost"),
            },
        )

    # ---------------------------------------------------------------- opportunities
    opp_rate = None
    if opp is not None:
        o = opp.filter(opp.alive)
        if lead is not None:
            lconv = lead.filter(lead.alive & lead.conv_opp.notnull())
            lconv = lead_person(lconv)
            by_opp = lconv.select(lopp=lconv.conv_opp, lpid=lconv.pid).distinct(
                on="lopp", keep="first"
            )
            o = o.left_join(by_opp, o.id == by_opp.lopp).select(
                *[o[c] for c in o.columns], by_opp.lpid
            )
        else:
            o = o.mutate(lpid=ibis.null("string"))
        o = lookup(people_ids, o, "contact", "cpid")
        o, has_accounts = account_of(o, "account")
        o = o.mutate(person_id=ibis.coalesce(o.cpid, o.lpid))

        def opp_checks(t: ir.Table) -> list[Check]:
            out = [
                Check(
                    t.contact.notnull() & t.cpid.isnull(),
                    "ContactId",
                    t.contact,
                    "unknown contact id",
                )
            ]
            if has_accounts:
                out.append(
                    Check(
                        t.account.notnull() & t.account_id.isnull(),
                        "AccountId",
                        t.account,
                        "unknown account id (not in Account.csv, or deleted)",
                    )
                )
            return out

        opp_rate = add_opportunities(
            build,
            o,
            stage_map=vm["opportunity_stage"],
            type_map=vm["opportunity_type"],
            rates=rates,
            file=raw["Opportunity"].file,
            src={
                "opportunity_id": hdr("Opportunity", "Id"),
                "account_id": hdr("Opportunity", "AccountId"),
                "person_id": hdr("Opportunity", "ContactId"),
                "owner_id": hdr("Opportunity", "OwnerId"),
                "type": hdr("Opportunity", "Type"),
                "created_at": hdr("Opportunity", "CreatedDate"),
                "close_date": hdr("Opportunity", "CloseDate"),
                "stage": hdr("Opportunity", "StageName"),
                "is_closed": hdr("Opportunity", "IsClosed"),
                "is_won": hdr("Opportunity", "IsWon"),
                "amount": hdr("Opportunity", "Amount"),
                "currency": hdr("Opportunity", "CurrencyIsoCode"),
                "lost_reason": hdr("Opportunity", "Loss_Reason__c", "LossReason", "Lost_Reason__c"),
            },
            extras=lambda t: {"lead_source": t.source, "campaign_id": t.campaign},
            checks=opp_checks,
        )

    if "OpportunityHistory" in raw and opp is not None and opp_rate is not None:
        r = raw["OpportunityHistory"]
        h = r.t.select(
            id=r.col("Id"),
            alive=_alive(r),
            opp=r.col("OpportunityId"),
            changed=ts(r.col("CreatedDate")),
            changed_raw=r.col("CreatedDate"),
            stage=r.col("StageName"),
            amount=num(r.col("Amount")),
            close=day(r.col("CloseDate")),
            **r.book(),
        )
        live_opps = opp.filter(opp.alive).id
        gone = h.filter(~h.alive | ~h.opp.isin(live_opps))
        n_gone = build.count(gone)
        if n_gone:
            build.dropped["opportunity history rows of deleted opportunities"] = n_gone
        h = h.filter(h.alive & h.opp.isin(live_opps))
        h = h.left_join(opp_rate, h.opp == opp_rate.id).select(
            *[h[c] for c in h.columns], rate=opp_rate.rate
        )
        h = eng.materialize(apply_map(h, vm["opportunity_stage"], "stage", "stage"), "history")
        stage, unmapped = h["__v_stage"], h["__u_stage"]
        amount = h.amount / h.rate if rates is not None else h.amount
        amount = ibis.coalesce(amount, h.amount) if rates is not None else amount
        problems = flag(
            Check(h.changed.isnull(), "CreatedDate", h.changed_raw, "not a timestamp"),
            Check(unmapped, "StageName", h.stage, "opportunity stage not mapped"),
        )
        build.add(
            "opportunity_history",
            h.select(
                opportunity_id=h.opp,
                changed_at=h.changed,
                stage=stage,
                amount=amount,
                close_date=h.close,
                __file=h["__file"],
                __row=h["__row"],
                **problems,
            ),
        )
        note_sources(
            build,
            "opportunity_history",
            r.file,
            {
                "opportunity_id": r.name("OpportunityId"),
                "changed_at": r.name("CreatedDate"),
                "stage": r.name("StageName"),
                "amount": r.name("Amount"),
                "close_date": r.name("CloseDate"),
            },
        )
        add_opportunity_events(
            build,
            h,
            vm["opportunity_stage"],
            entity_id=h.opp,
            stage=stage,
            entered_at=h.changed,
            problems=problems,
        )

    # ---------------------------------------------------------------- touchpoints
    if "CampaignMember" in raw:
        r = raw["CampaignMember"]
        m = r.t.select(
            id=r.col("Id"),
            alive=_alive(r),
            who=ibis.coalesce(r.col("ContactId"), r.col("LeadId")),
            campaign=r.col("CampaignId"),
            created=ts(r.col("CreatedDate")),
            created_raw=r.col("CreatedDate"),
            responded=boolean(r.col("HasResponded")).fill_null(False),
            first_responded=ts(r.col("FirstRespondedDate")),
            status=r.col("Status"),
            **r.book(),
        )
        n_dead = build.count(m.filter(~m.alive))
        if n_dead:
            build.dropped["deleted campaign members"] = n_dead
        m = m.filter(m.alive)
        m = lookup(people_ids, m, "who", "pid")
        if campaign_channel is not None:
            m = m.left_join(campaign_channel, m.campaign == campaign_channel.cid).select(
                *[m[c] for c in m.columns], campaign_channel.cid, campaign_channel.cchannel
            )
        else:
            m = m.mutate(cid=ibis.null("string"), cchannel=ibis.null("string"))
        build.add(
            "touchpoints",
            m.select(
                touchpoint_id=m.id,
                person_id=m.pid,
                campaign_id=m.campaign,
                channel=ibis.coalesce(m.cchannel, ibis.literal("other")),
                touch_type=ibis.ifelse(m.responded, "responded", "member"),
                occurred_at=ibis.ifelse(
                    m.responded & m.first_responded.notnull(), m.first_responded, m.created
                ),
                member_status=m.status,
                __file=m["__file"],
                __row=m["__row"],
                **flag(
                    Check(m.created.isnull(), "CreatedDate", m.created_raw, "not a timestamp"),
                    Check(m.pid.isnull(), "LeadId/ContactId", m.who, "unknown lead or contact"),
                    Check(
                        m.campaign.notnull() & m.cid.isnull(),
                        "CampaignId",
                        m.campaign,
                        "unknown campaign id",
                    ),
                ),
            ),
        )
        note_sources(
            build,
            "touchpoints",
            r.file,
            {
                "touchpoint_id": r.name("Id"),
                "person_id": r.name("ContactId", "LeadId"),
                "campaign_id": r.name("CampaignId"),
                "occurred_at": r.name("CreatedDate"),
            },
        )

    # ---------------------------------------------------------------- activities
    live_opp_ids = opp.filter(opp.alive).id if opp is not None else None
    for obj in ("Task", "Event"):
        if obj not in raw:
            continue
        r = raw[obj]
        if obj == "Task":
            kind = ibis.coalesce(r.col("TaskSubtype"), r.col("Type"), ibis.literal("task"))
            when = ibis.coalesce(ts(r.col("CompletedDateTime")), ts(r.col("CreatedDate")))
        else:
            kind = ibis.coalesce(r.col("Type"), ibis.literal("meeting"))
            when = ibis.coalesce(
                ts(r.col("ActivityDateTime")), ts(r.col("StartDateTime")), ts(r.col("CreatedDate"))
            )
        sub = r.col("TaskSubtype")
        a = r.t.select(
            id=r.col("Id"),
            alive=_alive(r),
            who=r.col("WhoId"),
            what=r.col("WhatId"),
            owner=r.col("OwnerId"),
            kind=kind.lower(),
            auto=ibis.coalesce(sub.isin(["ListEmail", "Cadence"]), False),
            when=when,
            when_raw=r.col("CreatedDate"),
            **r.book(),
        )
        n_dead = build.count(a.filter(~a.alive))
        if n_dead:
            build.dropped[f"deleted {obj.lower()}s"] = n_dead
        a = a.filter(a.alive)
        a = lookup(people_ids, a, "who", "pid")
        opp_id = (
            ibis.ifelse(a.what.isin(live_opp_ids), a.what, ibis.null("string"))
            if live_opp_ids is not None
            else ibis.null("string")
        )
        build.add(
            "activities",
            a.select(
                activity_id=a.id,
                person_id=a.pid,
                opportunity_id=opp_id,
                owner_id=a.owner,
                type=a.kind,
                is_automated=a.auto,
                occurred_at=a.when,
                crm_object=ibis.literal(obj),
                __file=a["__file"],
                __row=a["__row"],
                **flag(
                    Check(a.when.isnull(), "CreatedDate", a.when_raw, "not a timestamp"),
                    Check(
                        a.who.notnull() & a.pid.isnull(), "WhoId", a.who, "unknown lead or contact"
                    ),
                ),
            ),
        )
        note_sources(
            build,
            "activities",
            r.file,
            {
                "activity_id": r.name("Id"),
                "person_id": r.name("WhoId"),
                "opportunity_id": r.name("WhatId"),
                "owner_id": r.name("OwnerId"),
            },
        )


def import_salesforce(
    store: Store | None,
    folder: Path | str,
    contract: Contract,
    *,
    values: Mapping[str, Mapping[str, str | None]] | None = None,
    stage_dates: Mapping[str, str] | None = None,
    dry_run: bool = False,
    quarantine: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> SourceSummary:
    """Import a Salesforce export folder. Timestamps in the export carry their offset (UTC
    ``Z``); dates are calendar dates, read as midnight in the contract's time zone (the
    source engine's). With ``dry_run`` (or no store) nothing is written."""
    return run_build(
        "salesforce",
        contract,
        store,
        lambda b: build_salesforce(
            b, Path(folder), values=values, stage_dates=stage_dates, store=store
        ),
        source_timezone=contract.timezone,
        dry_run=dry_run,
        quarantine=quarantine,
        on_step=on_step,
    )


__all__ = ["OBJECTS", "build_salesforce", "find_objects", "import_salesforce", "value_maps"]
