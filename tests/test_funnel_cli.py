from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cueva.workspace import Workspace
from tests import funnel_data
from tests.conftest import invoke


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("funnel_cli")
    w = Workspace.init(root / "ws", "Hand Made")
    funnel_data.load(w, root / "data")
    w.close()
    yield w.path


cli = invoke


def test_json_has_every_section(ws_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        capsys,
        "funnel",
        str(ws_path),
        "--period",
        "2026-Q1",
        "--target-pipeline",
        "10000",
        "--format",
        "json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["period"] == {
        "label": "2026-Q1",
        "first_day": "2026-01-01",
        "last_day": "2026-03-31",
    }
    assert data["window_days"] == 90 and data["currency"] == "EUR"
    assert [r["entered"] for r in data["stages"]] == [6, 5, 5, 6, 3]
    assert data["stages"][4]["conversion_period"] is None
    assert data["deals"][0]["win_rate"] == 0.75
    assert data["pipeline"][0]["open_pipeline"] == 4200
    assert data["pipeline"][0]["pipeline_coverage"] == pytest.approx(0.42)


def test_from_to_by_grain_and_window(ws_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        capsys,
        "funnel",
        str(ws_path),
        "--from",
        "2026-01-01",
        "--to",
        "2026-03-31",
        "--by",
        "channel",
        "--grain",
        "month",
        "--window-days",
        "30",
        "--format",
        "json",
        "--section",
        "stages",
    )
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"stages"} and "deals" not in data
    rows = data["stages"]
    assert {r["channel"] for r in rows} == {"(none)", "ads", "events", "seo"}
    assert {r["period"] for r in rows} == {"2026-01", "2026-02", "2026-03"}
    opp = [r for r in rows if r["stage"] == "opportunity" and r["channel"] == "ads"]
    # ads opportunities: O1 (Jan, won after 29.5 days), O3 (Feb, 30 days), O7 (Mar, lost)
    assert [(r["cohort"], r["reached"]) for r in opp] == [(1, 1), (1, 1), (1, 0)]


def test_csv_and_table(ws_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "funnel", str(ws_path), "--period", "2026-Q1", "--format", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("stage,label,owner,entered,next_stage,conversion_period,cohort")
    assert lines[1].startswith("lead,Lead,marketing,6,mql,")
    code, out, _ = cli(
        capsys, "funnel", str(ws_path), "--period", "2026-Q1", "-f", "csv", "--section", "deals"
    )
    assert out.splitlines()[1].startswith("3,1,0.75,5500.0,3000.0,")
    code, out, _ = cli(capsys, "funnel", str(ws_path), "--period", "2026-Q1")
    assert code == 0
    assert "Funnel stages" in out and "Open pipeline" in out and "75.0%" in out
    assert "Hand Made funnel, 2026-Q1 (2026-01-01 to 2026-03-31)" in out


def test_default_period_and_open_ranges(ws_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, "funnel", str(ws_path), "-f", "json")
    data = json.loads(out)
    assert (data["period"]["first_day"], data["period"]["last_day"]) == ("2025-12-20", "2026-04-10")
    _code, out, _ = cli(capsys, "funnel", str(ws_path), "--from", "2026-02-01", "-f", "json")
    data = json.loads(out)
    assert (data["period"]["first_day"], data["period"]["last_day"]) == ("2026-02-01", "2026-04-10")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--by", "chanel", "--period", "2026-Q1"],
            "error: unknown segment column 'chanel'; valid columns: owner",
        ),
        (["--period", "2026-Q5"], "error: not a period: '2026-Q5'"),
        (["--period", "2026-Q1", "--from", "2026-01-01"], "error: give either --period or"),
        (["--from", "2026-03-01", "--to", "2026-02-01"], "error: --to 2026-02-01 is before"),
        (["--from", "01/03/2026"], "error: not a date: '01/03/2026'"),
        (
            ["--window-days", "0", "--period", "2026-Q1"],
            "error: the conversion window must be at least 1 day",
        ),
        (
            ["--target-pipeline", "-5", "--period", "2026-Q1"],
            "error: the pipeline target must be a positive amount",
        ),
    ],
)
def test_bad_input_is_one_error_line(
    ws_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _out, err = cli(capsys, "funnel", str(ws_path), *args)
    assert code == 1
    assert err.startswith(message), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_console_script_in_a_subprocess(ws_path: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cueva",
            "funnel",
            str(ws_path),
            "--period",
            "2026-Q1",
            "-f",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["deals"][0]["won"] == 3


def test_missing_workspace_and_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "funnel", str(tmp_path / "nope"))
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err
    code, out, _ = cli(capsys, "funnel", "--help")
    assert code == 0 and "Example: cueva funnel" in out
