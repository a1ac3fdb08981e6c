from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import invoke, write


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cueva", *args], capture_output=True, text=True, check=False
    )


cli = invoke


def test_init_import_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "acme"
    r = cli(capsys, "init", str(ws))
    assert r.returncode == 0, r.stderr
    assert (ws / "cueva.yaml").is_file() and (ws / "cueva.duckdb").is_file()
    owners = write(tmp_path / "owners.csv", "owner_id,name,team\no1,Ana,sales\n")
    people = write(
        tmp_path / "people.csv",
        "person_id,created_at,owner_id\np1,2026-01-05 10:00,o1\np2,2026-02-01,o1\n",
    )
    r = cli(capsys, "import", str(ws), str(people), str(owners))
    assert r.returncode == 0, r.stderr
    r = cli(capsys, "status", str(ws), "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = {row["table"]: row for row in json.loads(r.stdout)}
    assert rows["people"]["rows"] == 2
    assert rows["people"]["from"] == "2026-01-05T10:00:00"
    assert rows["people"]["to"] == "2026-02-01T00:00:00"
    assert rows["owners"]["rows"] == 1
    assert rows["accounts"]["rows"] == 0


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    r = run("status", str(tmp_path / "missing"))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ")
    assert "cueva init" in r.stderr


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "init", str(tmp_path / "w")).returncode == 0
    r = cli(capsys, "init", str(tmp_path / "w"))
    assert r.returncode == 1 and "--force" in r.stderr


def test_import_errors_and_skips_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "acme"
    assert cli(capsys, "init", str(ws)).returncode == 0
    bad = write(tmp_path / "bad" / "owners.csv", "owner_id,team\no1,sales\no1,sales\n")
    r = cli(capsys, "import", str(ws), str(bad))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: import rejected, nothing was written")
    assert "owners.csv row 3, column owner_id: 'o1': duplicate key" in r.stderr
    r = cli(capsys, "import", str(ws), str(tmp_path / "bad"))
    assert r.returncode == 1 and "is a folder" in r.stderr
    r = cli(capsys, "import", str(ws), str(bad), "--encoding", "klingon")
    assert r.returncode == 1 and "unknown encoding" in r.stderr
    good = write(tmp_path / "owners.csv", "owner_id;team;name\no1;sales;Peña\n", "cp1252")
    r = cli(capsys, "import", str(ws), str(good), "--encoding", "cp1252")
    assert r.returncode == 0, r.stderr
    assert "owners.csv: 1 rows -> owners" in r.stdout
    r = cli(capsys, "import", str(ws), str(good), "--encoding", "cp1252")
    assert r.returncode == 0 and "unchanged since its last import, skipped" in r.stdout
    r = cli(capsys, "status", str(ws), "--format", "json")
    owners = next(row for row in json.loads(r.stdout) if row["table"] == "owners")
    assert owners["rows"] == 1 and owners["last_import"] is not None


def test_import_progress_on_a_big_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "acme"
    assert cli(capsys, "init", str(ws)).returncode == 0
    rows = "".join(f"o{i},sales,Owner number {i} with a long enough name\n" for i in range(120_000))
    big = write(tmp_path / "owners.csv", "owner_id,team,name\n" + rows)
    assert big.stat().st_size > 4 << 20
    r = cli(capsys, "import", str(ws), str(big))
    assert r.returncode == 0, r.stderr
    assert "owners.csv: 120,000 rows -> owners" in r.stdout


def test_import_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("init", "import", "status"):
        r = cli(capsys, command, "--help")
        assert r.returncode == 0 and "Example: cueva " + command in r.stdout


MAPPING = Path(__file__).parent / "fixtures" / "mapping" / "mapping.yaml"


def test_import_with_a_mapping_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`cueva import --mapping` (the issue's spelling) imports what `import-crm --mapping` does."""
    a, b = tmp_path / "a", tmp_path / "b"
    for ws in (a, b):
        assert cli(capsys, "init", str(ws)).returncode == 0
    r = cli(capsys, "import", str(a), "--mapping", str(MAPPING), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "dry run: nothing written" in r.stdout
    assert json.loads(cli(capsys, "status", str(a), "-f", "json").stdout)[3]["rows"] == 0
    assert cli(capsys, "import", str(a), "--mapping", str(MAPPING)).returncode == 0
    assert cli(capsys, "import-crm", str(b), "--mapping", str(MAPPING)).returncode == 0
    rows_a = {
        r["table"]: r["rows"]
        for r in json.loads(cli(capsys, "status", str(a), "-f", "json").stdout)
    }
    rows_b = {
        r["table"]: r["rows"]
        for r in json.loads(cli(capsys, "status", str(b), "-f", "json").stdout)
    }
    assert rows_a == rows_b and rows_a["people"] > 0
    r = cli(capsys, "import", str(a), "--mapping", str(MAPPING), str(MAPPING))
    assert r.returncode == 1 and "either files or --mapping" in r.stderr
    r = cli(capsys, "import", str(a))
    assert r.returncode == 1 and "--mapping" in r.stderr
    r = cli(capsys, "import", str(a), str(tmp_path / "people.csv"), "--dry-run")
    assert r.returncode == 1 and "go with --mapping" in r.stderr
