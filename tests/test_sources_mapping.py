"""Any CRM through a mapping file; mapping suggestions; the CLI commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cueva.metrics.funnel import stage_counts
from cueva.periods import Period
from cueva.sources import (
    MappingError,
    SourceMappingError,
    import_mapping,
    suggest_mapping,
)
from cueva.sources.mapping import parse_mapping
from cueva.workspace import Workspace
from tests.conftest import invoke

HERE = Path(__file__).parent / "fixtures" / "mapping"
ALL_TIME = Period(date(2020, 1, 1), date(2030, 1, 1), "all")


def src(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / name, sep=";", dtype=str, keep_default_na=False)


def test_mapping_import_matches_the_spreadsheet(workspace: Workspace) -> None:
    summary = import_mapping(workspace.store(), HERE / "mapping.yaml", workspace.contract)
    leads, deals = src("leads.csv"), src("negocios.csv")
    people = workspace.store().table("people").to_pandas().set_index("person_id").sort_index()
    assert list(people.index) == sorted(leads.ID)
    first = leads.iloc[0]
    assert people.loc[first.ID, "created_at"] == pd.to_datetime(
        first["Fecha alta"], format="%d/%m/%Y %H:%M"
    )
    channels = {
        "Google Ads": "paid_search",
        "Feria": "events",
        "Boca a boca": "referrals",
        "LinkedIn": "paid_social",
        "Web": "organic_search",
    }
    assert people.channel.to_dict() == {r.ID: channels[r.Origen] for r in leads.itertuples()}
    assert set(people.segment) == {"SMB"}
    opps = workspace.store().table("opportunities").to_pandas().set_index("opportunity_id")
    for r in deals.itertuples():
        assert opps.loc[r.Negocio, "amount"] == pytest.approx(float(r.Importe.replace(",", ".")))
        assert opps.loc[r.Negocio, "is_won"] == (r.Ganado == "Sí")
    assert summary.table_rows("stage_events") == int(
        (leads["Fecha MQL"] != "").sum() + (leads["Fecha SQL"] != "").sum()
    )
    counts = stage_counts(workspace.store(), workspace.contract, ALL_TIME)
    assert dict(zip(counts.stage, counts.entered, strict=True)) == {
        "lead": len(leads),
        "mql": int((leads["Fecha MQL"] != "").sum()),
        "sql": int((leads["Fecha SQL"] != "").sum()),
        "opportunity": len(deals),
        "won": int((deals.Ganado == "Sí").sum()),
    }


def test_unmapped_value_names_file_row_column(tmp_path: Path, workspace: Workspace) -> None:
    folder = tmp_path / "m"
    shutil.copytree(HERE, folder)
    text = (folder / "leads.csv").read_text(encoding="utf-8").replace(";Feria;", ";Podcast;", 1)
    (folder / "leads.csv").write_text(text, encoding="utf-8")
    with pytest.raises(SourceMappingError, match=r"leads\.csv row \d+, column Origen 'Podcast'"):
        import_mapping(workspace.store(), folder / "mapping.yaml", workspace.contract)
    assert workspace.store().row_count("people") == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tables: {peopel: {file: a.csv}}", "did you mean 'people'"),
        ("tables: {people: {file: a.csv, colums: {}}}", "did you mean 'columns'"),
        ("tables: {people: {file: a.csv, columns: {person_id: ID}}}", "created_at have no source"),
        ("tables: [1, 2]", "tables: Input should be a valid dictionary"),
        ("tables: {people: {file: a.csv", "not valid YAML"),
        ("- just a list", "must be a YAML mapping"),
        (
            "tables: {people: {file: a.csv, columns: {person_id: ID, created_at: C}, values: {email: {a: b}}}}",
            "no source column",
        ),
    ],
)
def test_bad_mapping_files(text: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping(text)


def test_bad_stage_and_header_are_located(tmp_path: Path, workspace: Workspace) -> None:
    folder = tmp_path / "m"
    shutil.copytree(HERE, folder)
    m = yaml.safe_load((folder / "mapping.yaml").read_text(encoding="utf-8"))
    m["tables"]["people"]["stage_events"][0]["stage"] = "mqll"
    (folder / "bad_stage.yaml").write_text(yaml.safe_dump(m, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=r"'mqll' is not a person stage.*did you mean 'mql'"):
        import_mapping(workspace.store(), folder / "bad_stage.yaml", workspace.contract)
    m = yaml.safe_load((folder / "mapping.yaml").read_text(encoding="utf-8"))
    m["tables"]["people"]["columns"]["email"] = "Corréo"
    (folder / "bad_col.yaml").write_text(yaml.safe_dump(m, allow_unicode=True), encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"no column 'Corréo' in leads\.csv; did you mean 'Correo'"
    ):
        import_mapping(workspace.store(), folder / "bad_col.yaml", workspace.contract)


def test_suggest_proposes_a_valid_mapping() -> None:
    s = suggest_mapping(HERE / "negocios.csv")
    assert s.table == "opportunities" and s.sep == ";"
    assert s.columns == {
        "opportunity_id": "Negocio",
        "person_id": "Lead",
        "created_at": "Creado",
        "close_date": "Cierre",
        "stage": "Etapa",
        "is_won": "Ganado",
        "amount": "Importe",
    }
    parsed = parse_mapping(s.to_yaml())
    assert parsed.tables["opportunities"].sep == ";"
    people = suggest_mapping(HERE / "leads.csv")
    assert people.table == "people"
    assert people.unmatched == ["Fecha MQL", "Fecha SQL"]
    sf = suggest_mapping(
        Path(__file__).parent / "fixtures" / "salesforce" / "export" / "Opportunity.csv"
    )
    assert sf.table == "opportunities" and sf.columns["stage"] == "StageName"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cueva", *args], capture_output=True, text=True, check=False
    )


cli = invoke


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    assert cli(capsys, "init", str(ws))[0] == 0
    code, out, err = cli(
        capsys, "import-crm", str(ws), "--mapping", str(HERE / "mapping.yaml"), "--dry-run"
    )
    assert code == 0, err
    assert "dry run: nothing written" in out and "people: 60" in out
    code, out, err = cli(
        capsys, "import-crm", str(ws), "--mapping", str(HERE / "mapping.yaml"), "--format", "json"
    )
    assert code == 0, err
    assert '"imported_rows"' in out
    code, _, err = cli(capsys, "import-crm", str(ws))
    assert code == 1 and "exactly one of" in err
    out_file = tmp_path / "suggested.yaml"
    code, _, err = cli(capsys, "mapping", "suggest", str(HERE / "leads.csv"), "-o", str(out_file))
    assert code == 0, err
    assert "person_id: ID" in out_file.read_text(encoding="utf-8")
    code, out, _ = cli(capsys, "quarantine", str(ws), "--format", "csv")
    assert code == 0 and out.startswith("source,file,row")
    # The installed command: a bad folder is one line on stderr, no traceback.
    r = run("import-crm", str(ws), "--salesforce", str(tmp_path / "nope"))
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_public_api_is_pinned() -> None:
    import cueva.sources as sources

    assert sources.__all__ == [
        "QUARANTINE_TABLE",
        "MappingError",
        "MappingFile",
        "SourceMappingError",
        "SourceReadError",
        "SourceSummary",
        "Suggestion",
        "import_hubspot",
        "import_mapping",
        "import_salesforce",
        "import_warehouse",
        "load_mapping",
        "load_value_maps",
        "quarantined",
        "suggest_mapping",
    ]


def test_every_value_map_and_model_is_documented() -> None:
    from cueva.sources._vocab import DEFAULT_MAPS
    from cueva.sources.warehouse import HUBSPOT_MODELS, SALESFORCE_MODELS

    doc = (Path(__file__).parents[1] / "docs" / "sources.md").read_text(encoding="utf-8")
    for name in [*DEFAULT_MAPS, *SALESFORCE_MODELS, *HUBSPOT_MODELS]:
        assert f"`{name}`" in doc or f"| {name} |" in doc, name
