"""Issue 6 end to end on real data: any CRM through a mapping file, with the X Education
lead-scoring export (shared/data/leads/Leads.csv, 9,240 leads, a LeadSquared-style export;
see its PROVENANCE.txt). The funnel per lead source is checked against plain pandas on the
same CSV."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cueva.errors import ImportValidationError
from cueva.metrics.funnel import funnel_report, stage_counts
from cueva.periods import Period
from cueva.sources import import_mapping, quarantined, suggest_mapping
from cueva.sources.suggest import suggest_for_headers
from cueva.workspace import Workspace
from tests.conftest import shared_file

MAPPING = Path(__file__).parent / "fixtures" / "leads" / "mapping.yaml"
JAN_2026 = Period(date(2026, 1, 1), date(2026, 2, 1), "2026-01")
#: The mapping's constant created_at (10:00 in Asia/Kolkata), as wall-clock time in the
#: contract's Europe/Madrid, computed independently with pandas.
CREATED = (
    pd.Timestamp("2026-01-05 10:00:00", tz="Asia/Kolkata")
    .tz_convert("Europe/Madrid")
    .tz_localize(None)
)


def leads_csv() -> Path:
    return shared_file("data", "leads", "Leads.csv")


def leads() -> pd.DataFrame:
    """Leads.csv as text, '' for empty cells (the trailing ',' gives an unnamed last column)."""
    return pd.read_csv(leads_csv(), dtype=str, keep_default_na=False)


def mapping_dir(tmp_path: Path, text: str | None = None) -> Path:
    """A copy of the mapping (or ``text``) with Leads.csv beside it (a link, not a copy)."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Leads.csv").symlink_to(leads_csv())
    path = folder / "mapping.yaml"
    if text is None:
        shutil.copy(MAPPING, path)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def table(ws: Workspace, name: str, key: list[str]) -> pd.DataFrame:
    frame = ws.store().table(name).to_pandas()
    return frame.sort_values(key).reset_index(drop=True)


# --------------------------------------------------------------------------- suggest


def test_suggest_finds_id_lead_source_and_country() -> None:
    s = suggest_mapping(leads_csv())
    assert s.table == "people"
    assert s.sep == ","
    # What it really finds on this export: three columns of nine the people table has.
    assert s.columns == {
        "person_id": "Prospect ID",
        "lead_source": "Lead Source",
        "country": "Country",
    }
    assert s.missing_required == ["created_at"]  # the export has no creation date
    assert "Prospect ID" not in s.unmatched and "Converted" in s.unmatched
    text = s.to_yaml()
    assert "# Required columns not found: created_at" in text
    assert yaml.safe_load(text)["tables"]["people"]["file"] == "Leads.csv"


def test_suggest_maps_prospect_id_to_person_id() -> None:
    # LeadSquared's lead id, the only id of this export.
    assert suggest_mapping(leads_csv()).columns.get("person_id") == "Prospect ID"


@pytest.mark.parametrize(
    "header",
    ["Prospect ID", "ProspectId", "Lead ID", "Contact ID", "ID do lead", "ID del prospecto"],
)
def test_suggest_knows_lead_id_spellings(header: str) -> None:
    s = suggest_for_headers([header, "Email", "Created Date"], "x.csv")
    assert s.table == "people" and s.columns["person_id"] == header


def test_suggest_names_the_trailing_empty_header() -> None:
    # Each line ends with ',': the empty 38th header is listed as the engine names it.
    assert suggest_mapping(leads_csv()).unmatched[-1] == "column37"


# --------------------------------------------------------------------------- import


def test_import_matches_the_export(workspace: Workspace, tmp_path: Path) -> None:
    src = leads()
    summary = import_mapping(
        workspace.store(), mapping_dir(tmp_path), workspace.contract, quarantine=True
    )
    converted = src[src.Converted == "1"]
    assert summary.written
    assert summary.table_rows("people") == len(src) == 9240
    assert summary.table_rows("stage_events") == len(converted) == 3561
    assert summary.problem_rows == (src.Converted == "0").sum() == 5679

    people = table(workspace, "people", ["person_id"]).set_index("person_id")
    by_id = src.set_index("Prospect ID").loc[people.index]
    assert list(people.index) == sorted(src["Prospect ID"])
    assert (people.created_at == CREATED).all()
    assert people.lead_source.fillna("").tolist() == by_id["Lead Source"].tolist()
    assert people.country.fillna("").tolist() == by_id["Country"].tolist()
    # 'Select' (not chosen) is null; every other city is kept as written.
    city = by_id["City"].replace({"Select": ""})
    assert people.city.fillna("").tolist() == city.tolist()
    assert people.city.notna().sum() == (~src.City.isin(["", "Select"])).sum()
    channel = people.channel.groupby(by_id["Lead Source"].to_numpy()).unique()
    assert list(channel["Google"]) == ["paid_search"]
    assert list(channel["google"]) == ["paid_search"]  # value maps ignore case
    assert list(channel["Reference"]) == ["referrals"]
    assert people.channel[by_id["Lead Source"].isin(["", "testone"]).to_numpy()].isna().all()

    events = table(workspace, "stage_events", ["entity_id"])
    assert events.entity_id.tolist() == sorted(converted["Prospect ID"])
    assert set(events.entity_type) == {"person"} and set(events.stage) == {"sql"}
    assert (events.entered_at == CREATED).all()

    held = quarantined(workspace.store())
    # Leads.csv row numbers count the header as row 1.
    assert sorted(held.row) == [i + 2 for i in src.index[src.Converted == "0"]]
    assert set(held.reason) == {"value not in the map of stage"}


def test_funnel_by_lead_source_matches_pandas(workspace: Workspace, tmp_path: Path) -> None:
    import_mapping(workspace.store(), mapping_dir(tmp_path), workspace.contract, quarantine=True)
    src = leads()
    src["converted"] = src.Converted.astype(int)
    src["source"] = src["Lead Source"].replace({"": "(none)"})
    ref = src.groupby("source").agg(leads=("converted", "size"), converted=("converted", "sum"))
    ref["rate"] = ref.converted / ref.leads

    counts = stage_counts(workspace.store(), workspace.contract, JAN_2026, by="lead_source")
    wide = counts.pivot(index="lead_source", columns="stage", values="entered")
    assert sorted(wide.index) == sorted(ref.index)
    wide = wide.loc[ref.index]
    assert wide["lead"].tolist() == ref.leads.tolist()
    assert wide["sql"].tolist() == ref.converted.tolist()
    assert (wide["sql"] / wide["lead"]).tolist() == pytest.approx(ref.rate.tolist())
    assert (wide[["mql", "opportunity", "won"]] == 0).all().all()
    # Numbers checked by hand (awk -F, on the CSV): Google 2868 leads, 1147 converted.
    assert (ref.loc["Google", "leads"], ref.loc["Google", "converted"]) == (2868, 1147)
    assert ref.loc["Reference", "rate"] == pytest.approx(490 / 534)

    report = funnel_report(workspace.store(), workspace.contract, by="lead_source")["stages"]
    lead_rows = report[report.stage == "lead"].set_index("lead_source").loc[ref.index]
    sql_rows = report[report.stage == "sql"].set_index("lead_source").loc[ref.index]
    assert lead_rows.entered.tolist() == ref.leads.tolist()
    assert sql_rows.entered.tolist() == ref.converted.tolist()

    # Overall: 3561 of 9240 leads converted (38.54 %).
    total = counts.groupby("stage").entered.sum()
    assert (total["lead"], total["sql"]) == (9240, 3561)


def test_reimport_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    path = mapping_dir(tmp_path)
    import_mapping(workspace.store(), path, workspace.contract, quarantine=True)
    people = table(workspace, "people", ["person_id"])
    events = table(workspace, "stage_events", ["entity_id", "stage"])
    held = quarantined(workspace.store()).drop(columns="quarantined_at")
    again = import_mapping(workspace.store(), path, workspace.contract, quarantine=True)
    assert again.written
    pd.testing.assert_frame_equal(table(workspace, "people", ["person_id"]), people)
    pd.testing.assert_frame_equal(table(workspace, "stage_events", ["entity_id", "stage"]), events)
    pd.testing.assert_frame_equal(
        quarantined(workspace.store()).drop(columns="quarantined_at"), held
    )


def test_dry_run_writes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    path = mapping_dir(tmp_path)
    dry = import_mapping(workspace.store(), path, workspace.contract, dry_run=True, quarantine=True)
    assert not dry.written
    assert (dry.table_rows("people"), dry.table_rows("stage_events")) == (9240, 3561)
    assert workspace.store().table("people").count().to_pyarrow().as_py() == 0
    assert workspace.store().table("stage_events").count().to_pyarrow().as_py() == 0
    assert quarantined(workspace.store()).empty
    # Without --quarantine the dry run reports the unmapped rows and still writes nothing.
    dry = import_mapping(workspace.store(), path, workspace.contract, dry_run=True)
    assert dry.problem_rows == 5679
    assert workspace.store().table("people").count().to_pyarrow().as_py() == 0


# --------------------------------------------------------------------------- found problems


def null_stage_mapping() -> str:
    """The fixture, with the natural spelling: Converted 0 -> null (no stage event)."""
    text = MAPPING.read_text(encoding="utf-8")
    assert 'stage: {"1": sql}' in text
    return text.replace('stage: {"1": sql}', 'stage: {"1": sql, "0": null}')


def test_null_stage_is_rejected_by_the_canonical_import(
    workspace: Workspace, tmp_path: Path
) -> None:
    # A value mapped to null in a required column is a canonical-import problem: the import
    # fails (and --quarantine does not hold those rows back; docs/sources.md says so).
    path = mapping_dir(tmp_path, null_stage_mapping())
    for quarantine in (False, True):
        with pytest.raises(ImportValidationError, match="required value is missing"):
            import_mapping(workspace.store(), path, workspace.contract, quarantine=quarantine)
        assert workspace.store().table("people").count().to_pyarrow().as_py() == 0
        assert quarantined(workspace.store()).empty


def test_dry_run_sees_what_the_import_rejects(workspace: Workspace, tmp_path: Path) -> None:
    path = mapping_dir(tmp_path, null_stage_mapping())
    src = leads()
    not_converted = [i + 2 for i in src.index[src.Converted == "0"]]
    for quarantine in (False, True):
        dry = import_mapping(
            workspace.store(), path, workspace.contract, dry_run=True, quarantine=quarantine
        )
        assert not dry.written
        assert dry.import_problems == dry.problem_rows == len(not_converted) == 5679
        assert dry.unmapped == []
        assert dry.import_errors == [
            f"Leads.csv row {r}, column Converted: '0': required value is missing "
            "(the mapping turns this value into null)"
            for r in not_converted[:20]
        ]
        lines = dry.lines()
        assert "the canonical import would reject this: 5,679 problem(s)" in "\n".join(lines)
        assert lines[-1] == "  ... and 5,659 more problem(s)"
    assert workspace.store().table("people").count().to_pyarrow().as_py() == 0
    assert workspace.store().table("stage_events").count().to_pyarrow().as_py() == 0


def test_import_error_names_the_source_row(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ImportValidationError) as info:
        import_mapping(
            workspace.store(), mapping_dir(tmp_path, null_stage_mapping()), workspace.contract
        )
    # The first lead not converted is Leads.csv row 2 (row 1 is the header); the rows shown
    # are the first 20 with Converted 0, as pandas finds them.
    src = leads()
    rows = [i + 2 for i in src.index[src.Converted == "0"]][:20]
    assert [(e.file, e.row, e.column, e.value) for e in info.value.errors] == [
        ("Leads.csv", r, "Converted", "0") for r in rows
    ]
    assert "Leads.csv row 2, column Converted" in str(info.value)


def test_import_error_counts_the_problems_not_shown(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ImportValidationError) as info:
        import_mapping(
            workspace.store(), mapping_dir(tmp_path, null_stage_mapping()), workspace.contract
        )
    message = str(info.value)
    assert message.startswith("import rejected, nothing was written: 5679 problem(s)")
    assert message.count("required value is missing") == 20
    assert "Leads.csv: ... and 5659 more problem(s)" in message
    assert info.value.counts == {"Leads.csv": 5679}


# --------------------------------------------------------------------------- CLI


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    from cueva.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_suggest_then_import(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = mapping_dir(tmp_path)
    suggested = path.parent / "suggested.yaml"
    code, _, _ = cli(
        capsys, "mapping", "suggest", str(path.parent / "Leads.csv"), "-o", str(suggested)
    )
    assert code == 0
    assert yaml.safe_load(suggested.read_text(encoding="utf-8"))["tables"]["people"]["columns"] == {
        "person_id": "Prospect ID",
        "lead_source": "Lead Source",
        "country": "Country",
    }
    # The suggestion as is: one line naming what the user has to add.
    ws = str(workspace.path)
    code, _, err = cli(capsys, "import", ws, "--mapping", str(suggested))
    assert code == 1
    assert err.strip().splitlines() == [
        f"error: {suggested}: tables.people: required column(s) created_at have no "
        "source column nor constant"
    ]
    code, out, _ = cli(capsys, "import", ws, "--mapping", str(path), "--quarantine")
    assert code == 0
    assert "imported 12,801 rows" in out and "5,679 rows quarantined" in out
    assert workspace.store().table("people").count().to_pyarrow().as_py() == 9240


def test_cli_dry_run_exit_code(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = mapping_dir(tmp_path, null_stage_mapping())
    ws = str(workspace.path)
    assert cli(capsys, "import", ws, "--mapping", str(path))[0] == 1
    code, out, err = cli(capsys, "import", ws, "--mapping", str(path), "--dry-run")
    assert code == 1
    assert "Leads.csv row 2, column Converted: '0': required value is missing" in out
    assert err.strip().splitlines() == [
        "error: the canonical import would reject 5,679 problem(s): nothing would be written "
        "(fix the mapping; see the problems above)"
    ]
    # --quarantine does not hold these rows back: the dry run still exits 1.
    assert cli(capsys, "import", ws, "--mapping", str(path), "--dry-run", "--quarantine")[0] == 1
    assert workspace.store().table("people").count().to_pyarrow().as_py() == 0
