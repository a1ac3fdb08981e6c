"""The Salesforce and HubSpot adapters report the columns they ignore, file by file, and the
canonical import's errors on what they built name the export's own file, row and column
(``Build.source_columns``, filled by the shared builders in ``cueva.sources._core``).

Expected ignored columns are listed by hand from the fixtures' headers and the columns the
adapters document (docs/sources.md); expected error rows are found with plain pandas."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from cueva.errors import ImportValidationError
from cueva.sources import import_hubspot, import_salesforce
from cueva.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"
SALESFORCE = FIXTURES / "salesforce" / "export"
HUBSPOT_LABELS = FIXTURES / "hubspot" / "labels"
HUBSPOT_API = FIXTURES / "hubspot" / "api"
DEALS = "hubspot-crm-exports-all-deals-2026-05-01.csv"
COMPANIES = "hubspot-crm-exports-all-companies-2026-05-01.csv"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def ignored(summary: object) -> dict[str, list[str]]:
    return {f.file: f.ignored_columns for f in summary.files}  # type: ignore[attr-defined]


def test_salesforce_ignored_columns_per_file(workspace: Workspace) -> None:
    got = import_salesforce(None, SALESFORCE, workspace.contract, dry_run=True)
    assert ignored(got) == {
        "Account.csv": [],
        "Campaign.csv": [],
        "CampaignMember.csv": [],
        "Contact.csv": ["FirstName", "LastName"],
        "DatedConversionRate.csv": [],
        "Event.csv": ["Subject", "DurationInMinutes"],
        "Lead.csv": ["FirstName", "LastName", "LastModifiedDate"],
        "Opportunity.csv": [],
        "OpportunityHistory.csv": ["CurrencyIsoCode"],
        "Task.csv": ["Subject", "Status", "ActivityDate"],
        "User.csv": ["IsActive"],
    }


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        (
            HUBSPOT_LABELS,
            {
                "fx_rates.csv": [],
                COMPANIES: [],
                "hubspot-crm-exports-all-contacts-2026-05-01.csv": ["First Name", "Last Name"],
                DEALS: [],
            },
        ),
        (
            HUBSPOT_API,
            {"companies.csv": [], "contacts.csv": [], "deals.csv": [], "fx_rates.csv": []},
        ),
    ],
    ids=["labels", "api"],
)
def test_hubspot_ignored_columns_per_file(
    workspace: Workspace, folder: Path, expected: dict[str, list[str]]
) -> None:
    got = import_hubspot(None, folder, workspace.contract, dry_run=True)
    assert ignored(got) == expected


def test_hubspot_extra_column_is_reported(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "hs"
    shutil.copytree(HUBSPOT_LABELS, folder)
    deals = read(folder / DEALS)
    deals.insert(3, "Forecast Category", "pipeline")
    deals.to_csv(folder / DEALS, index=False)
    got = import_hubspot(None, folder, workspace.contract, dry_run=True)
    assert ignored(got)[DEALS] == ["Forecast Category"]


def negative(frame: pd.DataFrame, column: str, rows: list[int]) -> list[int]:
    """Make ``column`` negative at the given 0-based rows; their CSV row numbers."""
    for i in rows:
        frame.loc[i, column] = "-" + frame.loc[i, column]
    return [i + 2 for i in rows]


def test_salesforce_import_errors_name_the_export_columns(
    workspace: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "sf"
    shutil.copytree(SALESFORCE, folder)
    opps = read(folder / "Opportunity.csv")
    alive = opps.index[(opps.IsDeleted == "false") & (opps.Amount != "")].tolist()
    opp_rows = negative(opps, "Amount", alive[:3])
    opps.to_csv(folder / "Opportunity.csv", index=False)
    accounts = read(folder / "Account.csv")
    alive = accounts.index[
        (accounts.IsDeleted == "false") & (accounts.NumberOfEmployees != "")
    ].tolist()
    acct_rows = negative(accounts, "NumberOfEmployees", alive[1:3])
    accounts.to_csv(folder / "Account.csv", index=False)
    with pytest.raises(ImportValidationError) as info:
        import_salesforce(workspace.store(), folder, workspace.contract)
    found = sorted((e.file, e.row, e.column) for e in info.value.errors)
    assert found == sorted(
        [("Account.csv", r, "NumberOfEmployees") for r in acct_rows]
        + [("Opportunity.csv", r, "Amount") for r in opp_rows]
    )
    assert all("must not be negative" in e.message for e in info.value.errors)
    assert info.value.counts == {"Account.csv": 2, "Opportunity.csv": 3}
    # The employee counts are reported as the export wrote them.
    by_row = {e.row: e.value for e in info.value.errors if e.file == "Account.csv"}
    assert by_row == {r: accounts.loc[r - 2, "NumberOfEmployees"] for r in acct_rows}
    assert workspace.store().table("opportunities").count().to_pyarrow().as_py() == 0


@pytest.mark.parametrize(
    ("folder", "deals_file", "amount"),
    [(HUBSPOT_LABELS, DEALS, "Amount"), (HUBSPOT_API, "deals.csv", "amount")],
)
def test_hubspot_import_errors_name_the_export_columns(
    workspace: Workspace, tmp_path: Path, folder: Path, deals_file: str, amount: str
) -> None:
    copy = tmp_path / "hs"
    shutil.copytree(folder, copy)
    deals = read(copy / deals_file)
    rows = negative(deals, amount, deals.index[deals[amount] != ""].tolist()[:2])
    deals.to_csv(copy / deals_file, index=False)
    with pytest.raises(ImportValidationError) as info:
        import_hubspot(workspace.store(), copy, workspace.contract)
    assert [(e.file, e.row, e.column) for e in info.value.errors] == [
        (deals_file, r, amount) for r in rows
    ]
    assert info.value.counts == {deals_file: 2}


def test_hubspot_employees_must_be_whole(workspace: Workspace, tmp_path: Path) -> None:
    """The accounts builder reads "12.0" as 12 and reports "12.5" (it used to round it)."""
    folder = tmp_path / "hs"
    shutil.copytree(HUBSPOT_LABELS, folder)
    companies = read(folder / COMPANIES)
    companies.loc[0, "Number of Employees"] = "12.0"
    companies.loc[1, "Number of Employees"] = "12.5"
    companies.to_csv(folder / COMPANIES, index=False)
    got = import_hubspot(None, folder, workspace.contract, dry_run=True)
    assert [(u.table, u.column, u.value, u.reason, u.count, u.file, u.row) for u in got.unmapped][
        :1
    ] == [("accounts", "Number of Employees", "12.5", "not a whole number", 1, COMPANIES, 3)]
    real = import_hubspot(workspace.store(), folder, workspace.contract, quarantine=True)
    accounts = workspace.store().table("accounts").to_pandas().set_index("account_id")
    assert accounts.loc[companies.loc[0, "Record ID"], "employees"] == 12
    assert companies.loc[1, "Record ID"] not in accounts.index
    assert real.written
