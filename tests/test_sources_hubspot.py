"""HubSpot exports (display labels and API names) -> import -> canonical tables and funnel
numbers, checked against a pandas computation from the export files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from cueva.metrics.funnel import stage_counts
from cueva.periods import Period
from cueva.sources import SourceMappingError, import_hubspot
from cueva.workspace import Workspace
from tests.test_sources_salesforce import type_filter

HERE = Path(__file__).parent / "fixtures" / "hubspot"
ALL_TIME = Period(date(2020, 1, 1), date(2030, 1, 1), "all")
STAGE_DATES = {
    "lead": "hs_lifecyclestage_lead_date",
    "mql": "hs_lifecyclestage_marketingqualifiedlead_date",
    "sql": "hs_lifecyclestage_salesqualifiedlead_date",
}


def api(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / "api" / f"{name}.csv", dtype=str, keep_default_na=False)


def madrid(utc_text: pd.Series) -> pd.Series:
    return pd.to_datetime(utc_text, utc=True).dt.tz_convert("Europe/Madrid").dt.tz_localize(None)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Workspace]]:
    out = {}
    for style in ("labels", "api"):
        ws = Workspace.init(tmp_path_factory.mktemp(style) / "ws", "HS Co")
        import_hubspot(ws.store(), HERE / style, ws.contract)
        out[style] = ws
    yield out
    for ws in out.values():
        ws.close()


def frame(ws: Workspace, name: str, cols: list[str]) -> pd.DataFrame:
    t = ws.store().table(name).to_pandas()[cols]
    return t.sort_values(cols).reset_index(drop=True)


def test_label_and_api_exports_give_the_same_tables(both) -> None:
    for name, cols in (
        ("people", ["person_id", "account_id", "email", "created_at", "channel", "owner_id"]),
        ("stage_events", ["entity_type", "entity_id", "stage", "entered_at"]),
        (
            "opportunities",
            [
                "opportunity_id",
                "account_id",
                "person_id",
                "created_at",
                "close_date",
                "stage",
                "is_won",
                "amount",
                "currency",
                "type",
            ],
        ),
        ("opportunity_history", ["opportunity_id", "changed_at", "stage"]),
        ("accounts", ["account_id", "name", "domain", "employees", "created_at"]),
    ):
        pd.testing.assert_frame_equal(
            frame(both["labels"], name, cols), frame(both["api"], name, cols), check_dtype=False
        )


def test_people_merges_and_stage_events(both) -> None:
    ws = both["api"]
    contacts = api("contacts")
    merged = {
        m: s for s, m in zip(contacts.hs_object_id, contacts.hs_merged_object_ids, strict=True) if m
    }
    people = ws.store().table("people").to_pandas()
    assert set(people.person_id) == set(contacts.hs_object_id) - set(merged)
    ev = ws.store().table("stage_events").to_pandas()
    ev = ev[ev.entity_type == "person"]
    want = []
    for stage, col in STAGE_DATES.items():
        has = contacts[contacts[col] != ""]
        pids = has.hs_object_id.map(lambda i: merged.get(i, i))
        want += list(zip(pids, [stage] * len(has), madrid(has[col]), strict=True))
    got = list(zip(ev.entity_id, ev.stage, ev.entered_at, strict=True))
    assert sorted(got) == sorted(set(want))
    # Contact 7 has two companies: the first is the account.
    c7 = contacts.iloc[7]
    assert (
        people.set_index("person_id").loc[c7.hs_object_id, "account_id"]
        == (c7.associatedcompanyid.split(";")[0])
    )


def test_deals_currency_reopened_and_spanish_labels(both) -> None:
    ws = both["labels"]
    deals = api("deals")
    rates = pd.read_csv(HERE / "api" / "fx_rates.csv", parse_dates=["date"])
    got = ws.store().table("opportunities").to_pandas().set_index("opportunity_id")
    for _, d in deals.iterrows():
        amount = float(d.amount)
        if d.deal_currency_code != "EUR":
            r = rates[(rates.currency == d.deal_currency_code) & (rates.date <= d.closedate)]
            amount /= r.sort_values("date").rate.iloc[-1]
        assert got.loc[d.hs_object_id, "amount"] == pytest.approx(amount, rel=1e-9)
    reopened = deals.iloc[9].hs_object_id
    assert got.loc[reopened, "stage"] == "contract_sent" and not got.loc[reopened, "is_won"]
    hist = ws.store().table("opportunity_history").to_pandas()
    assert "won" in set(hist[hist.opportunity_id == reopened].stage)
    labels = pd.read_csv(next((HERE / "labels").glob("*deals*")), dtype=str)
    assert "Cierre ganado" in set(labels["Deal Stage"])


def test_funnel_numbers_by_hand(both) -> None:
    contacts = api("contacts")
    deals = api("deals")
    merged = {
        m: s for s, m in zip(contacts.hs_object_id, contacts.hs_merged_object_ids, strict=True) if m
    }

    def reached(col: str) -> int:
        has = contacts[contacts[col] != ""].hs_object_id
        return len({merged.get(i, i) for i in has})

    types = deals.dealtype.map({"newbusiness": "new", "existingbusiness": "expansion", "": None})
    for ws in both.values():
        counted = types.map(type_filter(ws, "opportunity"))
        won_counted = types.map(type_filter(ws, "won"))
        want = {
            "lead": len(set(contacts.hs_object_id) - set(merged)),
            "mql": reached(STAGE_DATES["mql"]),
            "sql": reached(STAGE_DATES["sql"]),
            "opportunity": int(counted.sum()),
            "won": int(((deals.dealstage == "closedwon") & won_counted).sum()),
        }
        counts = stage_counts(ws.store(), ws.contract, ALL_TIME)
        assert dict(zip(counts.stage, counts.entered, strict=True)) == want


def test_custom_deal_stage_fails_until_mapped(tmp_path: Path, workspace: Workspace) -> None:
    export = tmp_path / "api"
    shutil.copytree(HERE / "api", export)
    deals = api("deals")
    deals.loc[[4, 6], "dealstage"] = "98765432"
    deals.to_csv(export / "deals.csv", index=False)
    with pytest.raises(SourceMappingError, match=r"deals\.csv row 6, column dealstage '98765432'"):
        import_hubspot(workspace.store(), export, workspace.contract)
    assert workspace.store().row_count("opportunities") == 0
    summary = import_hubspot(
        workspace.store(), export, workspace.contract, values={"deal_stage": {"98765432": "won"}}
    )
    assert summary.table_rows("opportunities") == len(deals)
