"""Salesforce export -> import -> canonical tables and funnel numbers, checked against an
independent computation from the export files with plain pandas."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from cueva.metrics.funnel import stage_counts
from cueva.periods import Period
from cueva.sources import QUARANTINE_TABLE, SourceMappingError, import_salesforce, quarantined
from cueva.workspace import Workspace

EXPORT = Path(__file__).parent / "fixtures" / "salesforce" / "export"
ALL_TIME = Period(date(2020, 1, 1), date(2030, 1, 1), "all")

# The fixture's lead statuses and the stage each one means by default (docs/sources.md).
MQL = {"Marketing Qualified", "Cualificado por marketing"}
SQL = {
    "Working - Contacted",
    "Trabajando - Contactado",
    "Closed - Converted",
    "Cerrado - Convertido",
}
LEAD = {"Open - Not Contacted", "Abierto - No contactado"}


def csv(name: str, folder: Path = EXPORT) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def reference_people() -> tuple[dict[str, str], set[str]]:
    """(lead/contact id -> person id, person ids), computed by hand from the export."""
    leads = csv("Lead")
    contacts = csv("Contact")
    alive_l = leads[leads.IsDeleted == "false"]
    alive_c = contacts[contacts.IsDeleted == "false"]
    conv = alive_l[(alive_l.IsConverted == "true") & (alive_l.ConvertedContactId != "")]
    head = (
        conv.sort_values(["CreatedDate", "Id"])
        .groupby("ConvertedContactId")["Id"]
        .first()
        .to_dict()
    )
    pid: dict[str, str] = {}
    for _, r in alive_l.iterrows():
        pid[r.Id] = head.get(r.ConvertedContactId, r.Id)
    for _, r in alive_c.iterrows():
        pid[r.Id] = head.get(r.Id, r.Id)
    for frame in (leads, contacts):
        dead = frame[(frame.IsDeleted == "true") & (frame.MasterRecordId != "")]
        for _, r in dead.iterrows():
            pid[r.Id] = pid[r.MasterRecordId]
    persons = {pid[i] for i in alive_l.Id} | {pid[i] for i in alive_c.Id}
    return pid, persons


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, object]]:
    ws = Workspace.init(tmp_path_factory.mktemp("sf") / "ws", "SF Co")
    summary = import_salesforce(ws.store(), EXPORT, ws.contract)
    yield ws, summary
    ws.close()


def type_filter(ws: Workspace, stage: str) -> Callable[[str | None], bool]:
    """The contract's entry filter of an opportunity stage (on the type column), if any."""
    rule = getattr(ws.contract.funnel.stage(stage).entry, "filter", None) or {}
    assert set(rule) <= {"type"}, rule
    allowed = rule.get("type")
    return lambda t: allowed is None or (None if pd.isna(t) else t) in allowed


def table(ws: Workspace, name: str) -> pd.DataFrame:
    return ws.store().table(name).to_pandas()


def test_converted_leads_and_their_contacts_are_one_person(imported) -> None:
    ws, summary = imported
    pid, persons = reference_people()
    people = table(ws, "people")
    assert set(people.person_id) == persons
    assert len(people) == len(persons)
    # The contact created by converting the first lead is not a second person.
    lead0 = csv("Lead").iloc[0]
    assert lead0.IsConverted == "true"
    assert lead0.ConvertedContactId not in set(people.person_id)
    row = people.set_index("person_id").loc[lead0.Id]
    assert row.account_id == lead0.ConvertedAccountId
    # Two leads converted into the same contact: the later one is merged into the earlier.
    last = csv("Lead").iloc[-1]
    assert last.ConvertedContactId == lead0.ConvertedContactId
    assert pid[last.Id] == pid[lead0.Id]
    assert last.Id not in set(people.person_id) or pid[last.Id] == last.Id
    assert summary.merged["lead/contact records merged into one person (converted leads)"] == (
        (csv("Lead").IsDeleted == "false").sum()
        + (csv("Contact").IsDeleted == "false").sum()
        - len(persons)
    )


def test_touchpoints_and_activities_follow_the_person(imported) -> None:
    ws, _ = imported
    pid, _ = reference_people()
    members = csv("CampaignMember")
    tp = table(ws, "touchpoints").set_index("touchpoint_id")
    assert len(tp) == len(members)
    who = members.ContactId.where(members.ContactId != "", members.LeadId)
    expected = {m: pid[w] for m, w in zip(members.Id, who, strict=True)}
    assert tp.person_id.to_dict() == expected
    campaigns = csv("Campaign").set_index("Id")
    first = members.iloc[0]
    assert tp.loc[first.Id, "campaign_id"] == first.CampaignId
    assert tp.loc[first.Id, "channel"] in {"webinars", "events", "email", "paid_search"}
    assert campaigns.loc[first.CampaignId, "Type"]
    responded = members[members.HasResponded == "true"]
    assert set(tp.loc[responded.Id, "touch_type"]) == {"responded"}
    acts = table(ws, "activities")
    assert len(acts) == len(csv("Task")) + len(csv("Event"))
    tasks = csv("Task")
    auto = tasks[tasks.TaskSubtype.isin(["ListEmail", "Cadence"])]
    assert acts.set_index("activity_id").loc[auto.Id, "is_automated"].all()
    assert acts.is_automated.sum() == len(auto)


def test_stage_events_from_lead_status(imported) -> None:
    ws, _ = imported
    pid, _ = reference_people()
    leads = csv("Lead")
    alive = leads[leads.IsDeleted == "false"]
    ev = table(ws, "stage_events")
    ev = ev[ev.entity_type == "person"]
    for stage, labels in (("mql", MQL), ("sql", SQL), ("lead", LEAD)):
        want = {pid[i] for i in alive[alive.Status.isin(labels)].Id}
        assert set(ev[ev.stage == stage].entity_id) == want, stage
    # A converted lead's sql event is dated at its conversion date (midnight, Madrid).
    lead0 = leads.iloc[0]
    got = ev[(ev.entity_id == lead0.Id) & (ev.stage == "sql")].entered_at.min()
    assert got == pd.Timestamp(lead0.ConvertedDate)


def test_opportunities_multi_currency_deleted_and_reopened(imported) -> None:
    ws, summary = imported
    opps = csv("Opportunity")
    alive = opps[opps.IsDeleted == "false"]
    got = table(ws, "opportunities").set_index("opportunity_id")
    assert set(got.index) == set(alive.Id)
    assert summary.dropped["deleted opportunities"] == 1
    assert (got.currency == "EUR").all()
    rates = csv("DatedConversionRate")
    rates["StartDate"] = pd.to_datetime(rates.StartDate)
    rates["ConversionRate"] = rates.ConversionRate.astype(float)
    for _, o in alive.iterrows():
        amount = float(o.Amount)
        if o.CurrencyIsoCode != "EUR":
            r = rates[(rates.IsoCode == o.CurrencyIsoCode) & (rates.StartDate <= o.CloseDate)]
            amount /= r.sort_values("StartDate").ConversionRate.iloc[-1]
        assert got.loc[o.Id, "amount"] == pytest.approx(amount, rel=1e-9)
        assert got.loc[o.Id, "amount_original"] == pytest.approx(float(o.Amount))
        assert got.loc[o.Id, "currency_original"] == o.CurrencyIsoCode
    assert summary.currencies == alive.CurrencyIsoCode.value_counts().sort_index().to_dict()
    assert {r["currency"] for r in summary.fx_rates} == {"GBP", "USD"}
    # Reopened: won, then negotiation again -> open, history keeps both.
    reopened = alive.iloc[5].Id
    assert got.loc[reopened, "stage"] == "negotiation"
    assert not got.loc[reopened, "is_won"]
    hist = table(ws, "opportunity_history")
    assert list(hist[hist.opportunity_id == reopened].sort_values("changed_at").stage) == [
        "prospecting" if "Prospecting" in set(csv("OpportunityHistory").StageName) else "",
        "qualification",
        "won",
        "negotiation",
    ]
    # Spanish stage labels map too.
    es = alive[alive.StageName == "Cerrada ganada"]
    assert len(es) and (got.loc[es.Id, "stage"] == "won").all()


def test_funnel_numbers_by_hand(imported) -> None:
    ws, _ = imported
    pid, persons = reference_people()
    leads = csv("Lead")
    alive_l = leads[leads.IsDeleted == "false"]
    opps = csv("Opportunity")
    alive_o = opps[opps.IsDeleted == "false"]
    # The contract may count only some opportunity types (e.g. new business): apply its rule
    # to the types mapped by hand.
    types = {
        "New Business": "new",
        "Nuevo negocio": "new",
        "Existing Customer - Upgrade": "expansion",
        "Renewal": "renewal",
        "": None,
    }
    counted = alive_o.Type.map(types).map(type_filter(ws, "opportunity"))
    won_counted = alive_o.Type.map(types).map(type_filter(ws, "won"))
    want = {
        "lead": len(persons),
        "mql": len({pid[i] for i in alive_l[alive_l.Status.isin(MQL)].Id}),
        "sql": len({pid[i] for i in alive_l[alive_l.Status.isin(SQL)].Id}),
        "opportunity": int(counted.sum()),
        "won": int(((alive_o.IsWon == "true") & won_counted).sum()),
    }
    counts = stage_counts(ws.store(), ws.contract, ALL_TIME)
    assert dict(zip(counts.stage, counts.entered, strict=True)) == want


def test_owners_users_and_queue(imported) -> None:
    ws, summary = imported
    owners = table(ws, "owners").set_index("owner_id")
    users = csv("User").set_index("Id")
    assert set(users.index) <= set(owners.index)
    assert owners.loc[users.index[1], "team"] == "sales"  # Ventas
    assert owners.loc[users.index[6], "team"] == "customer success"
    queue = "00G000000000001AAA"
    assert owners.loc[queue, "team"] == "unassigned"
    assert any("not in User.csv" in n for n in summary.notes)


def test_reimport_is_idempotent_and_incremental(tmp_path: Path, workspace: Workspace) -> None:
    export = tmp_path / "export"
    shutil.copytree(EXPORT, export)
    import_salesforce(workspace.store(), export, workspace.contract)
    before = {t: workspace.store().row_count(t) for t in ("people", "stage_events", "touchpoints")}
    import_salesforce(workspace.store(), export, workspace.contract)
    assert {t: workspace.store().row_count(t) for t in before} == before
    # A newer export: a lead became MQL, one more campaign member, a deal's amount changed.
    leads = csv("Lead", export)
    i = leads.index[(leads.Status == "Open - Not Contacted") & (leads.IsDeleted == "false")][0]
    leads.loc[i, "Status"] = "Marketing Qualified"
    leads.to_csv(export / "Lead.csv", index=False)
    members = csv("CampaignMember", export)
    new = members.iloc[[0]].copy()
    new["Id"] = "00v999999999999AAA"
    pd.concat([members, new]).to_csv(export / "CampaignMember.csv", index=False)
    opps = csv("Opportunity", export)
    j = opps.index[(opps.CurrencyIsoCode == "EUR") & (opps.IsDeleted == "false")][0]
    opps.loc[j, "Amount"] = "12345.5"
    opps.to_csv(export / "Opportunity.csv", index=False)
    import_salesforce(workspace.store(), export, workspace.contract)
    after = {t: workspace.store().row_count(t) for t in before}
    assert after["people"] == before["people"]
    assert after["touchpoints"] == before["touchpoints"] + 1
    assert after["stage_events"] == before["stage_events"] + 1  # the new mql; lead kept
    got = workspace.store().table("opportunities").to_pandas().set_index("opportunity_id")
    assert got.loc[opps.loc[j, "Id"], "amount"] == 12345.5


def _broken_export(tmp_path: Path) -> Path:
    export = tmp_path / "export"
    shutil.copytree(EXPORT, export)
    leads = csv("Lead", export)
    leads.loc[[3, 10, 20], "Status"] = "Zombie"
    leads.to_csv(export / "Lead.csv", index=False)
    opps = csv("Opportunity", export)
    opps.loc[2, "StageName"] = "Ganada por WhatsApp"
    opps.to_csv(export / "Opportunity.csv", index=False)
    return export


def test_unmapped_values_fail_and_nothing_is_written(tmp_path: Path, workspace: Workspace) -> None:
    export = _broken_export(tmp_path)
    with pytest.raises(SourceMappingError) as err:
        import_salesforce(workspace.store(), export, workspace.contract)
    text = str(err.value)
    assert "nothing was written" in text
    assert "Lead.csv row 5, column Status 'Zombie': lead status with no stage (3 row(s)" in text
    assert "Opportunity.csv row 4, column StageName 'Ganada por WhatsApp'" in text
    for name in ("people", "opportunities", "stage_events", "touchpoints"):
        assert workspace.store().row_count(name) == 0
    top = err.value.summary.unmapped
    assert (top[0].value, top[0].count) == ("Zombie", 3)


def test_quarantine_imports_the_rest(tmp_path: Path, workspace: Workspace) -> None:
    export = _broken_export(tmp_path)
    summary = import_salesforce(workspace.store(), export, workspace.contract, quarantine=True)
    q = quarantined(workspace.store())
    assert QUARANTINE_TABLE in workspace.store().con.list_tables()
    # 3 status events, the opportunity, and what hangs off it: its history, the stage
    # events from that history ('won' is a contract stage) and its activities.
    opp_id = csv("Opportunity", export).loc[2, "Id"]
    hist = csv("OpportunityHistory", export)
    hist = hist[(hist.OpportunityId == opp_id) & (hist.IsDeleted == "false")]
    n_won = int(hist.StageName.isin(["Closed Won", "Cerrada ganada"]).sum())
    n_acts = sum(int((csv(o, export).WhatId == opp_id).sum()) for o in ("Task", "Event"))
    assert len(q) == summary.problem_rows == 3 + 1 + len(hist) + n_won + n_acts
    assert set(q.reason) == {
        "lead status with no stage",
        "opportunity stage not mapped",
        "references a quarantined opportunities row",
    }
    assert opp_id not in set(workspace.store().table("opportunities").to_pandas().opportunity_id)
    assert workspace.store().row_count("people") == len(reference_people()[1])
    # A fixed re-import replaces this source's quarantine rows.
    import_salesforce(
        workspace.store(),
        export,
        workspace.contract,
        values={
            "lead_status": {"Zombie": None},
            "opportunity_stage": {"Ganada por WhatsApp": "won"},
        },
        quarantine=True,
    )
    assert len(quarantined(workspace.store())) == 0
    got = workspace.store().table("opportunities").to_pandas().set_index("opportunity_id")
    assert got.loc[opp_id, "stage"] == "won"


def test_dry_run_summarises_without_writing(workspace: Workspace) -> None:
    summary = import_salesforce(workspace.store(), EXPORT, workspace.contract, dry_run=True)
    assert not summary.written
    assert workspace.store().row_count("people") == 0
    assert summary.table_rows("people") == len(reference_people()[1])
    assert summary.rows_read == sum(len(csv(p.stem)) for p in EXPORT.glob("*.csv"))
    files = {f.file: f for f in summary.files}
    assert files["Lead.csv"].ignored_columns == ["FirstName", "LastName", "LastModifiedDate"]
    text = "\n".join(summary.lines())
    assert "dry run" in text and "currencies: EUR" in text and "fx: USD -> EUR" in text


def test_missing_fx_rate_is_reported(tmp_path: Path, workspace: Workspace) -> None:
    export = tmp_path / "export"
    shutil.copytree(EXPORT, export)
    rates = csv("DatedConversionRate", export)
    rates[rates.IsoCode != "GBP"].to_csv(export / "DatedConversionRate.csv", index=False)
    with pytest.raises(SourceMappingError, match="column CurrencyIsoCode 'GBP': no fx rate"):
        import_salesforce(workspace.store(), export, workspace.contract)


def test_bad_fx_file_names_the_row(tmp_path: Path, workspace: Workspace) -> None:
    export = tmp_path / "export"
    shutil.copytree(EXPORT, export)
    (export / "DatedConversionRate.csv").write_text(
        "IsoCode,StartDate,ConversionRate\nUSD,2026-01-01,1.1\nUSD,yesterday,1.2\n"
    )
    with pytest.raises(ValueError, match=r"DatedConversionRate\.csv row 3"):
        import_salesforce(workspace.store(), export, workspace.contract)


def test_a_record_listed_twice_keeps_its_last_row(tmp_path: Path, workspace: Workspace) -> None:
    """Repeated ids are found (the distinct key hashes fall short of the rows) and merged:
    the later row of the export wins, and the summary counts the merged row."""
    export = tmp_path / "export"
    shutil.copytree(EXPORT, export)
    accounts = csv("Account", export)
    again = accounts.iloc[[1]].copy()
    again["Name"] = "Empresa 2 renamed"
    pd.concat([accounts, again]).to_csv(export / "Account.csv", index=False)
    summary = import_salesforce(workspace.store(), export, workspace.contract)
    assert summary.merged["duplicate accounts rows (same account_id)"] == 1
    got = table(workspace, "accounts").set_index("account_id")
    assert got.loc[again.iloc[0]["Id"], "name"] == "Empresa 2 renamed"
    assert got.index.is_unique
    # The fixture's own repeated stage event (a key of four columns) is still merged.
    assert (
        summary.merged[
            "duplicate stage_events rows (same entity_type, entity_id, stage, entered_at)"
        ]
        == 1
    )
