"""The contract, scorecard and check commands, run in process (views only print)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cueva.contract import load_contract
from cueva.workspace import Workspace
from tests.conftest import invoke
from tests.test_sla import build
from tests.test_sla_notify import Hook

MAY_29 = "2026-05-29 12:00"


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    ws = build(tmp_path_factory.mktemp("cli"))
    ws.close()
    yield ws.path


@pytest.fixture
def ws_copy(company: Path, tmp_path: Path) -> Path:
    """A copy that a test may change (contract, signatures, alert log)."""
    dst = tmp_path / "ws"
    shutil.copytree(company, dst)
    return dst


run = invoke


def test_scorecard_json_and_csv(company: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "scorecard", str(company), "--period", "2026-05", "--as-of", MAY_29, "-f", "json"
    )
    assert code == 0
    rows = {r["service_level"]: r for r in json.loads(out)}
    assert rows["response_time"]["actual"] == pytest.approx(0.6)
    assert rows["response_time"]["status"] == "at risk"
    assert rows["pipeline"]["status"] == "met"
    assert len(rows["mql_volume"]["trend"]) == 6
    code, out, _ = run(
        capsys, "scorecard", str(company), "--period", "2026-05", "--as-of", MAY_29, "-f", "csv"
    )
    header = out.splitlines()[0].split(",")
    assert header[:5] == ["service_level", "kind", "owner", "receiver", "period"]
    assert len(out.splitlines()) == 1 + 9


def test_scorecard_table_and_from_to(company: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "scorecard",
        str(company),
        "--from",
        "2026-05-01",
        "--to",
        "2026-05-31",
        "--as-of",
        "2026-06-02",
    )
    assert code == 0
    assert "missed" in out and "scorecard" in out


def test_scorecard_detail(company: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "scorecard",
        str(company),
        "--period",
        "2026-05",
        "--as-of",
        MAY_29,
        "--detail",
        "response_time",
        "-f",
        "json",
    )
    assert code == 0
    rows = json.loads(out)
    assert [(r["person_id"], r["owner"], r["business_hours"]) for r in rows] == [
        ("p4", "Bruno Gil", 65.0),
        ("p3", "Ana Ruiz", 6.0),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "error: "),
        (["--period", "2026-05", "--from", "2026-05-01"], "either --period or --from/--to"),
        (["--as-of", "yesterday"], "--as-of 'yesterday' is not a date"),
        (["--detail", "nope"], "no service level named 'nope'"),
        (["--detail", "mql_volume"], "no per-lead detail"),
    ],
)
def test_scorecard_errors_are_one_line(
    company: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "scorecard", str(company), *args)
    assert code == 1
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err + out


def test_check_exit_codes_and_breach_lines(
    ws_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "check", str(ws_copy), "--as-of", MAY_29)
    assert code == 1
    lines = out.strip().splitlines()
    assert (
        "at risk: response_time (sales -> marketing) 2026-05: 60.0% vs target >= 90.0%, projected 60.0%"
        in lines
    )
    assert len(lines) == 6  # one per breach, nothing else
    # keep only service levels that are met or on track: exit 0
    text = (ws_copy / "cueva.yaml").read_text()
    start = text.index("service_levels:\n") + len("service_levels:\n")
    end = text.index("  - name: win_rate")
    (ws_copy / "cueva.yaml").write_text(text[:start] + text[end:].split("  - name: pipeline")[0])
    code, out, _ = run(capsys, "check", str(ws_copy), "--as-of", MAY_29)
    assert (code, out.strip()) == (
        0,
        "all 1 service levels met or on track (as of 2026-05-29 12:00)",
    )


def test_check_notify_posts_and_keeps_failed_alerts(
    ws_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = Hook()
    try:
        with (ws_copy / "cueva.yaml").open("a") as f:
            f.write(
                "notifications:\n  webhook: {url_env: HOOK}\n  retries: 1\n  backoff_seconds: 0.01\n"
            )
        monkeypatch.setenv("HOOK", hook.url)
        hook.codes = [500, 500]
        code, out, err = run(capsys, "check", str(ws_copy), "--as-of", MAY_29, "--notify")
        assert code == 1 and "HTTP 500" in err and "kept in the store" in err
        code, out, err = run(capsys, "check", str(ws_copy), "--as-of", MAY_29)
        assert "undelivered alert from" in out and "(webhook, 2 failed attempt(s))" in out
        code, out, err = run(capsys, "check", str(ws_copy), "--as-of", MAY_29, "--notify")
        assert code == 1 and err == ""
        assert out.count("sent to webhook") == 2  # the kept alert, then today's
        assert len(hook.bodies) == 2
        assert len(hook.bodies[1]["blocks"]) == 2 + 6
        code, out, _ = run(capsys, "check", str(ws_copy), "--as-of", MAY_29)
        assert "undelivered" not in out
    finally:
        hook.close()


def test_contract_sign_show_diff(ws_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "contract", "diff", str(ws_copy))
    assert "never been signed" in out
    code, out, _ = run(
        capsys, "contract", "sign", str(ws_copy), "--team", "marketing", "--name", "Marta Gil"
    )
    assert (
        code == 0 and "Marta Gil signed for marketing" in out and "still waiting for: sales" in out
    )
    code, out, _ = run(
        capsys, "contract", "sign", str(ws_copy), "--team", "sales", "--name", "Sergio Ruiz"
    )
    assert "waiting" not in out
    code, out, _ = run(capsys, "contract", "show", str(ws_copy), "-f", "json")
    shown = json.loads(out)
    assert shown["signed"] is True and len(shown["service_levels"]) == 9
    text = (ws_copy / "cueva.yaml").read_text().replace("target: 30%", "target: 35%")
    (ws_copy / "cueva.yaml").write_text(text)
    code, out, _ = run(capsys, "contract", "show", str(ws_copy))
    assert out.count("STALE") == 2
    code, out, _ = run(capsys, "contract", "diff", str(ws_copy), "-f", "csv")
    assert out.splitlines()[1:] == ["service_levels.win_rate.target,changed,0.3,0.35"]
    assert not load_contract(ws_copy / "cueva.yaml").signatures[0].terms_hash.startswith(" ")


def test_contract_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "contract", "schema")
    assert code == 0 and "service_levels" in json.loads(out)["properties"]
    code, out, _ = run(capsys, "contract", "schema", "-o", str(tmp_path / "s.json"))
    assert json.loads((tmp_path / "s.json").read_text())["title"].startswith("Cueva")


def test_every_command_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in (
        ["scorecard"],
        ["check"],
        ["contract", "schema"],
        ["contract", "show"],
        ["contract", "sign"],
        ["contract", "diff"],
    ):
        code, out, _ = run(capsys, *cmd, "--help")
        assert code == 0 and "Example: cueva " in out, cmd


def test_workspace_is_untouched_by_scorecard(company: Path) -> None:
    ws = Workspace.open(company)
    assert ws.contract.company == "Hand Co"
    ws.close()
