from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import write


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cueva", *args], capture_output=True, text=True, check=False
    )


def test_init_import_status(tmp_path: Path) -> None:
    ws = tmp_path / "acme"
    r = run("init", str(ws))
    assert r.returncode == 0, r.stderr
    assert (ws / "cueva.yaml").is_file() and (ws / "cueva.duckdb").is_file()
    owners = write(tmp_path / "owners.csv", "owner_id,name,team\no1,Ana,sales\n")
    people = write(
        tmp_path / "people.csv",
        "person_id,created_at,owner_id\np1,2026-01-05 10:00,o1\np2,2026-02-01,o1\n",
    )
    r = run("import", str(ws), str(people), str(owners))
    assert r.returncode == 0, r.stderr
    r = run("status", str(ws), "--format", "json")
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


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "w")).returncode == 0
    r = run("init", str(tmp_path / "w"))
    assert r.returncode == 1 and "--force" in r.stderr
