"""The contract's sections, sign-off, diff, targets write-back and JSON Schema."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from cueva.contract import (
    SIGNED_TERMS_FILE,
    Contract,
    PeriodTargets,
    contract_json_schema,
    diff_since_signed,
    glossary_markdown,
    is_signed,
    load_contract,
    parse_contract,
    sign_contract,
    signature_status,
    starter_contract,
    terms_hash,
    write_targets,
)
from cueva.errors import ContractError
from cueva.workspace import Workspace

T1 = datetime(2026, 5, 4, 10, 0)
T2 = datetime(2026, 5, 4, 11, 0)


def test_starter_contract_has_every_section() -> None:
    c = parse_contract(starter_contract("Acme"))
    assert [s.kind for s in c.service_levels] == ["volume", "quality", "response_time", "coverage"]
    assert c.service_level("mql_acceptance").target == 0.5  # "50%" is read as a share
    assert c.calendar.holidays is not None and c.calendar.holidays.country == "ES"
    assert c.calendar_for("sales").timezone == "Europe/Madrid"  # defaults to the contract's
    assert {t.name for t in c.glossary} >= {"revenue", "profit", "mqls"}
    with pytest.raises(ContractError, match="no service level named 'nope'"):
        c.service_level("nope")


def test_team_calendars_are_chosen_by_team_or_name() -> None:
    text = starter_contract("Acme").replace(
        "service_levels:\n",
        "calendars:\n  us: {timezone: America/New_York, hours: '08:00-17:00', teams: [sales]}\n"
        "service_levels:\n",
        1,
    )
    c = parse_contract(text)
    assert c.calendar_for("sales").timezone == "America/New_York"
    assert c.calendar_for("marketing").timezone == "Europe/Madrid"
    assert c.calendar_for(name="us").open_minutes == (8 * 60, 17 * 60)


def test_json_schema_describes_every_top_level_key() -> None:
    schema = contract_json_schema()
    assert set(schema["properties"]) == set(Contract.model_fields)
    assert "ServiceLevel" in schema["$defs"]
    kinds = schema["$defs"]["ServiceLevel"]["properties"]["kind"]["enum"]
    assert "response_time" in kinds
    json.dumps(schema)  # serialisable


def test_glossary_tree_ends_in_revenue_and_profit() -> None:
    md = glossary_markdown(parse_contract(starter_contract("Acme")))
    lines = md.splitlines()
    assert lines[0].startswith("- **revenue**")
    assert "  - **pipeline**" in md and "    - **mqls**" in md  # mqls -> pipeline -> revenue
    assert any(ln.startswith("- **profit**") for ln in lines)


def test_glossary_term_that_leads_nowhere_is_an_error() -> None:
    text = starter_contract("Acme") + (
        "  - name: brand_impressions\n    definition: Ad views.\n    feeds: []\n"
    )
    with pytest.raises(ContractError, match=r"glossary\.5: 'brand_impressions' feeds nothing"):
        parse_contract(text)


def _ws(tmp_path: Path) -> Path:
    ws = Workspace.init(tmp_path / "ws", "Sign Co")
    ws.close()
    return ws.contract_path


def test_sign_records_both_heads_and_keeps_comments(tmp_path: Path) -> None:
    path = _ws(tmp_path)
    assert not is_signed(load_contract(path))
    sign_contract(path, "marketing", "Marta Gil", now=T1)
    assert not is_signed(load_contract(path))  # sales has not signed yet
    sign_contract(path, "sales", "Sergio Ruiz", now=T2)
    c = load_contract(path)
    assert is_signed(c)
    assert [(s.team, s.signed_at) for s in c.signatures] == [("marketing", T1), ("sales", T2)]
    sign_contract(path, "sales", "Sergio Ruiz", now=T2)  # signing again adds one entry
    assert len(load_contract(path).signatures) == 3
    status = {s.team: s for s in signature_status(c)}
    assert status["marketing"].name == "Marta Gil" and status["marketing"].current
    assert status["sales"].signed_at == T2
    assert status["sales"].terms_hash == terms_hash(c)
    text = path.read_text()
    assert "# Ordered stages." in text  # comments elsewhere survive
    side = json.loads((path.parent / SIGNED_TERMS_FILE).read_text())
    assert list(side) == [terms_hash(c)]
    assert diff_since_signed(path).unchanged


def test_any_change_of_terms_makes_signatures_stale_and_diff_shows_it(tmp_path: Path) -> None:
    path = _ws(tmp_path)
    sign_contract(path, "marketing", "Marta", now=T1)
    sign_contract(path, "sales", "Sergio", now=T2)
    text = path.read_text()
    # a comment or formatting change is not a change of terms
    path.write_text(text.replace("# Ordered stages.", "# The ordered stages."))
    assert is_signed(load_contract(path))
    # a changed target is
    path.write_text(text.replace("    target: 100\n", "    target: 80\n"))
    c = load_contract(path)
    assert not is_signed(c)
    assert not any(s.current for s in signature_status(c))
    d = diff_since_signed(path)
    assert not d.unchanged
    assert [(x.path, x.change, x.before, x.after) for x in d.changes] == [
        ("service_levels.mql_volume.target", "changed", 100.0, 80.0)
    ]


def test_diff_reports_added_and_removed_service_levels(tmp_path: Path) -> None:
    path = _ws(tmp_path)
    sign_contract(path, "sales", "Sergio", now=T1)
    text = path.read_text()
    start = text.index("  - name: follow_up")
    end = text.index("\n\n", start)
    path.write_text(text[:start] + text[end + 1 :])
    changes = diff_since_signed(path).changes
    assert {c.change for c in changes} == {"removed"}
    assert all(c.path.startswith("service_levels.follow_up.") for c in changes)


def test_sign_rejects_unknown_team_with_hint(tmp_path: Path) -> None:
    path = _ws(tmp_path)
    with pytest.raises(ContractError, match="did you mean 'sales'"):
        sign_contract(path, "sale", "X")


def test_write_targets_merges_validates_and_keeps_the_rest(tmp_path: Path) -> None:
    path = _ws(tmp_path)
    before = path.read_text()
    c = write_targets(path, {"2026-05": {"revenue": 250000, "mqls": 120}})
    assert c.targets["2026-05"].revenue == 250000
    c = write_targets(path, {"2026-Q2": PeriodTargets(pipeline=900000), "2026-05": {"mqls": None}})
    assert c.targets["2026-05"].mqls is None and c.targets["2026-05"].revenue == 250000
    assert c.targets["2026-Q2"].pipeline == 900000
    after = path.read_text()
    # everything outside the targets block is byte-for-byte the same
    head = before[: before.index("targets: {}")]
    assert after.startswith(head)
    assert after.split("# Metrics in plain words")[1] == before.split("# Metrics in plain words")[1]
    assert yaml.safe_load(after)["targets"]["2026-05"] == {"revenue": 250000.0}
    with pytest.raises(ContractError, match="did you mean 'mqls'"):
        write_targets(path, {"2026-06": {"mql": 5}})
    assert path.read_text() == after  # a rejected write leaves the file alone
