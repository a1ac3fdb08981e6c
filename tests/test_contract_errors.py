"""Every deliberately broken contract in tests/fixtures/contracts gives a located error:
the line, the key path and, for typos, the nearest valid key; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from cueva.contract import load_contract
from cueva.errors import ContractError

FIXTURES = Path(__file__).parent / "fixtures" / "contracts"

# file -> (line, key path, fragments the message must contain)
EXPECTED: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "wrong_top_level_typo.yaml": (
        54,
        "service_level",
        ("unknown key", "did you mean 'service_levels'?"),
    ),
    "wrong_nested_typo.yaml": (45, "calendar.working_day", ("did you mean 'working_days'?",)),
    "wrong_sla_kind.yaml": (
        70,
        "service_levels.2.kind",
        ("'respons_time' is not one of", "did you mean 'response_time'?"),
    ),
    "wrong_share_target.yaml": (62, "service_levels.1", ("share between 0 and 1", "1.5")),
    "wrong_missing_window.yaml": (69, "service_levels.2", ("needs 'within_hours'",)),
    "wrong_window_for_kind.yaml": (
        55,
        "service_levels.0",
        ("'within_hours' does not apply to a volume",),
    ),
    "wrong_unknown_stage.yaml": (
        57,
        "service_levels.0.stage",
        ("unknown stage 'mq1'", "did you mean 'mql'?"),
    ),
    "wrong_hours.yaml": (46, "calendar.hours", ("close after they open",)),
    "wrong_holiday_country.yaml": (47, "calendar.holidays", ("unknown holiday country 'XS'",)),
    "wrong_holiday_region.yaml": (
        47,
        "calendar.holidays",
        ("unknown subdivision 'ZZ' for ES", "MD"),
    ),
    "wrong_weekday.yaml": (45, "calendar.working_days.0", ("did you mean 'mon'?",)),
    "wrong_glossary_feeds.yaml": (
        102,
        "glossary.2.feeds.0",
        ("unknown metric 'revenu'", "did you mean 'revenue'?"),
    ),
    "wrong_glossary_cycle.yaml": (
        102,
        "glossary.2.feeds",
        ("cycle: pipeline -> mqls -> pipeline",),
    ),
    "wrong_target_period.yaml": (86, "targets", ("'2026-13' must be a month",)),
    "wrong_target_metric.yaml": (87, "targets.2026-05.mql", ("did you mean 'mqls'?",)),
    "wrong_duplicate_sla.yaml": (76, "service_levels.3.name", ("repeated: response_time",)),
    "wrong_timezone.yaml": (7, "timezone", ("did you mean 'Europe/Madrid'?",)),
    "wrong_secret_in_file.yaml": (116, "notifications.webhook.url", ("did you mean 'url_env'?",)),
}


def test_every_fixture_has_an_expectation() -> None:
    on_disk = {p.name for p in FIXTURES.glob("wrong_*.yaml")}
    assert on_disk == set(EXPECTED) | {"wrong_yaml_syntax.yaml"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_contract_is_located(name: str) -> None:
    line, path, fragments = EXPECTED[name]
    with pytest.raises(ContractError) as info:
        load_contract(FIXTURES / name)
    text = str(info.value)
    assert text.startswith(f"{FIXTURES / name}: the contract is not valid")
    located = [ln for ln in text.splitlines() if f"line {line}, {path}:" in ln]
    assert located, text
    for fragment in fragments:
        assert fragment in located[0], text
    # the line number points at the key the path names
    source = (FIXTURES / name).read_text().splitlines()
    leaf = next(p for p in reversed(path.split(".")) if not p.isdigit())
    assert leaf in source[line - 1] or "- " in source[line - 1], source[line - 1]


def test_yaml_syntax_error_has_line_and_column() -> None:
    with pytest.raises(ContractError, match=r"line 58, column 4: not valid YAML"):
        load_contract(FIXTURES / "wrong_yaml_syntax.yaml")


@pytest.mark.parametrize("name", ["wrong_sla_kind.yaml", "wrong_yaml_syntax.yaml"])
def test_cli_shows_one_error_not_a_traceback(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from cueva.cli import main

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "cueva.yaml").write_text((FIXTURES / name).read_text())
    with pytest.raises(SystemExit) as info:
        main(["contract", "show", str(ws)])
    out, err = capsys.readouterr()
    assert info.value.code == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err + out
    assert "line " in err
