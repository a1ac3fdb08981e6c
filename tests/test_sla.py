"""Service levels on a small hand-made company: every number here is computed by hand.

Calendar: Madrid, Mon-Fri 09:00-18:00, Spanish + Community of Madrid holidays (1 and 2 May).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from cueva.contract import Contract, load_contract, parse_contract
from cueva.errors import UsageError
from cueva.importer import import_files
from cueva.periods import parse_period
from cueva.sla import detail, evaluate, scorecard, target_for
from cueva.workspace import Workspace
from tests.conftest import write

MAY_29 = datetime(2026, 5, 29, 12, 0)  # Friday noon: May is not over
JUNE_2 = datetime(2026, 6, 2, 12, 0)  # May is over

EXTRA_SLAS = """\
  - name: rejection_reasons
    kind: feedback
    giver: sales
    receiver: marketing
    target: 90%
  - name: win_rate
    kind: win_rate
    giver: sales
    receiver: marketing
    target: 30%
  - name: pipeline
    kind: pipeline_created
    giver: shared
    receiver: shared
    target: plan
  - name: revenue
    kind: revenue
    giver: shared
    receiver: shared
    target: 20000
  - name: enterprise_mqls
    kind: volume
    giver: marketing
    receiver: sales
    target: 3
    segment: {segment: enterprise}
"""

DATA = {
    "owners.csv": """owner_id,name,team
o1,Ana Ruiz,sales
o2,Bruno Gil,sales
m1,Marta Diaz,marketing
""",
    "people.csv": """person_id,created_at,owner_id,segment
p1,2026-05-04 08:00,o1,enterprise
p2,2026-05-08 16:00,o2,enterprise
p3,2026-05-12 14:00,o1,smb
p4,2026-05-20 09:00,o2,smb
p5,2026-05-29 10:00,o1,smb
p6,2026-04-28 10:00,o2,smb
p7,2026-04-15 09:00,o1,smb
""",
    "stage_events.csv": """entity_type,entity_id,stage,entered_at,reason
person,p1,mql,2026-05-04 10:00,
person,p2,mql,2026-05-08 17:00,
person,p3,mql,2026-05-12 15:00,
person,p4,mql,2026-05-20 10:00,
person,p5,mql,2026-05-29 11:00,
person,p6,mql,2026-05-05 09:30,
person,p7,mql,2026-04-15 10:00,
person,p1,sql,2026-05-06 12:00,
person,p2,sql,2026-05-30 10:00,
person,p3,sql,2026-05-20 10:00,
person,p4,rejected,2026-05-25 10:00,no budget
person,p6,rejected,2026-05-21 10:00,
""",
    "activities.csv": """activity_id,person_id,owner_id,type,is_automated,occurred_at
a1,p1,o1,call,false,2026-05-04 11:30
a2,p2,o2,call,false,2026-05-11 12:00
a3,p3,o1,call,false,2026-05-13 12:00
a4,p4,o2,email,true,2026-05-20 10:05
a5,p6,o2,call,false,2026-05-01 10:00
a6,p7,o1,call,false,2026-04-15 11:00
""",
    "opportunities.csv": """opportunity_id,person_id,owner_id,created_at,close_date,is_closed,is_won,amount
op1,p1,o1,2026-05-06 12:00,2026-05-20,true,true,10000
op2,p2,o2,2026-05-10 12:00,2026-05-25,true,false,5000
op3,p7,o1,2026-04-10 12:00,2026-05-02,true,true,8000
""",
}


def build(path: Path) -> Workspace:
    """The hand-made company in a fresh workspace (also used by the check/notify tests)."""
    ws = Workspace.init(path / "ws", "Hand Co")
    text = ws.contract_path.read_text()
    text = text.replace("\ntargets: {}", "\ntargets:\n  2026-05: {pipeline: 12000}")
    text = text.replace(
        "\n# Agreed numbers per period", EXTRA_SLAS + "\n# Agreed numbers per period"
    )
    ws.contract_path.write_text(text)
    paths = [write(path / "data" / name, body) for name, body in DATA.items()]
    import_files(ws.store(), paths, timezone="Europe/Madrid")
    return ws


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    w = build(tmp_path_factory.mktemp("sla"))
    yield w
    w.close()


def _contract(ws: Workspace, *replace: tuple[str, str]) -> Contract:
    text = ws.contract_path.read_text()
    for a, b in replace:
        assert a in text
        text = text.replace(a, b)
    return parse_contract(text)


def _card(
    ws: Workspace, as_of: datetime, period: str = "2026-05", c: Contract | None = None
) -> pd.DataFrame:
    c = c or load_contract(ws.contract_path)
    return scorecard(ws.store(), c, parse_period(period), as_of).set_index("service_level")


def test_response_time_hand_computed(ws: Workspace) -> None:
    card = _card(ws, MAY_29)
    r = card.loc["response_time"]
    # p1 1.5 h, p2 Fri 17:00 -> Mon 12:00 = 4 h (met, on the limit), p6 contacted before the
    # MQL = 0 h; p3 Tue 15:00 -> Wed 12:00 = 6 h late; p4 never contacted by a human (the
    # automated e-mail does not count), 65 h so far: late; p5 1 h so far: pending.
    assert (r["actual"], r["measured"], r["pending"]) == (pytest.approx(3 / 5), 5, 1)
    # waits of contacted leads: 0, 1.5, 4, 6 -> median 2.75, p90 4 + 0.7 * 2
    assert r["p50_hours"] == pytest.approx(2.75)
    assert r["p90_hours"] == pytest.approx(5.4)
    assert r["status"] == "at risk" and r["owner"] == "sales" and r["target"] == 0.9
    assert r["attainment"] == pytest.approx(0.6 / 0.9)
    assert r["trend"][-1] == 1.0  # April: p7 contacted after 1 h
    # once May is over, p5 (Fri 11:00 -> Tue 12:00 = 7 + 9 + 3 h) is late too
    r = _card(ws, JUNE_2).loc["response_time"]
    assert (r["actual"], r["status"], r["pending"]) == (pytest.approx(3 / 6), "missed", 0)


def test_response_time_detail_lists_breaching_leads(ws: Workspace) -> None:
    c = load_contract(ws.contract_path)
    d = detail(ws.store(), c, "response_time", parse_period("2026-05"), MAY_29)
    assert d["person_id"].tolist() == ["p4", "p3"]
    assert d["owner"].tolist() == ["Bruno Gil", "Ana Ruiz"]
    # p4: Wed 20 May 10:00 -> Fri 29 May 12:00 = 8 + 9 * 6 + 3 h
    assert d["business_hours"].tolist() == pytest.approx([65.0, 6.0])
    assert d["contact_at"].isna().tolist() == [True, False]


def test_coverage_counts_any_follow_up_after_the_mql(ws: Workspace) -> None:
    r = _card(ws, MAY_29).loc["follow_up"]
    # met: p1 (same day), p2 (Fri -> Mon = 1 day), p3 (1 day), p4 (automated e-mail, 0 days);
    # late: p6 (its only call was before the MQL); pending: p5
    assert (r["actual"], r["measured"], r["pending"]) == (pytest.approx(4 / 5), 5, 1)
    c = load_contract(ws.contract_path)
    d = detail(ws.store(), c, "follow_up", parse_period("2026-05"), MAY_29)
    assert d["person_id"].tolist() == ["p6"]
    assert d["business_days"].tolist() == [18.0]  # Tue 5 May -> Fri 29 May


def test_quality_waits_for_the_acceptance_window(ws: Workspace) -> None:
    r = _card(ws, MAY_29).loc["mql_acceptance"]
    # accepted within 14 days: p1, p3; decided and not accepted: p2 (window closed 22 May),
    # p6; pending: p4, p5 (windows still open)
    assert (r["actual"], r["measured"], r["pending"]) == (pytest.approx(0.5), 4, 2)
    assert r["status"] == "on track"  # 50% so far, target 50%
    assert r["trend"][-1] == 0.0  # April: p7 never accepted
    c = load_contract(ws.contract_path)
    d = detail(ws.store(), c, "mql_acceptance", parse_period("2026-05"), MAY_29)
    assert sorted(d["person_id"]) == ["p2", "p6"]


def test_volume_projects_the_pace(ws: Workspace) -> None:
    card = _card(ws, MAY_29)
    r = card.loc["mql_volume"]
    assert r["actual"] == 6 and r["target"] == 100
    elapsed = (MAY_29 - datetime(2026, 5, 1)).total_seconds()
    assert r["projected"] == pytest.approx(6 * 31 * 86400 / elapsed)
    assert r["status"] == "at risk"
    assert r["trend"][-1] == 1.0
    ent = card.loc["enterprise_mqls"]  # segment filter: p1, p2
    assert ent["actual"] == 2 and ent["status"] == "at risk"
    assert _card(ws, JUNE_2).loc["enterprise_mqls"]["status"] == "missed"


def test_count_target_reached_early_is_met(ws: Workspace) -> None:
    c = _contract(ws)
    r = _card(ws, datetime(2026, 5, 15, 9, 0), c=c).loc["enterprise_mqls"]
    # 2 in the first 14.375 days of 31 projects 4.3 >= 3
    assert r["actual"] == 2 and r["status"] == "on track"
    c = _contract(ws, ("    target: 3\n", "    target: 2\n"))
    r = _card(ws, datetime(2026, 5, 15, 9, 0), c=c).loc["enterprise_mqls"]
    assert r["status"] == "met"


def test_feedback_outcomes_and_plan_targets(ws: Workspace) -> None:
    card = _card(ws, JUNE_2)
    fb = card.loc["rejection_reasons"]
    assert (fb["actual"], fb["measured"], fb["status"]) == (0.5, 2, "missed")  # p6 has none
    wr = card.loc["win_rate"]
    assert wr["actual"] == pytest.approx(2 / 3) and wr["status"] == "met"  # op1, op3 / 3
    pipe = card.loc["pipeline"]
    assert (pipe["actual"], pipe["target"], pipe["status"]) == (15000, 12000, "met")
    rev = card.loc["revenue"]
    assert (rev["actual"], rev["target"], rev["status"]) == (18000, 20000, "missed")
    assert rev["attainment"] == pytest.approx(0.9)


def test_quarter_scales_count_targets_and_plan_without_value(ws: Workspace) -> None:
    card = _card(ws, JUNE_2, "2026-Q2")
    assert card.loc["mql_volume", "target"] == 300
    assert card.loc["mql_volume", "actual"] == 7  # April p7 + 6 in May
    assert card.loc["pipeline", "status"] == "no target"  # no plan for Q2, April or June
    assert len(card.loc["mql_volume", "trend"]) == 6


def test_target_for_sums_monthly_plans_into_a_quarter(ws: Workspace) -> None:
    c = _contract(
        ws,
        (
            "  2026-05: {pipeline: 12000}",
            "  2026-04: {pipeline: 1000}\n  2026-05: {pipeline: 12000}\n  2026-06: {pipeline: 500}",
        ),
    )
    sla = c.service_level("pipeline")
    assert target_for(sla, c, parse_period("2026-Q2")) == 13500


def test_as_of_hides_the_future(ws: Workspace) -> None:
    c = load_contract(ws.contract_path)
    sla = c.service_level("mql_volume")
    periods = [parse_period("2026-04"), parse_period("2026-05"), parse_period("2026-06")]
    f = evaluate(ws.store(), c, sla, periods, datetime(2026, 5, 10))
    assert f["actual"].tolist()[:2] == [1, 3]  # p1, p2, p6 before 10 May
    assert pd.isna(f["actual"].iloc[2])


def test_unknown_segment_column_is_a_clear_error(ws: Workspace) -> None:
    c = _contract(ws, ("{segment: enterprise}", "{tier: gold}"))
    with pytest.raises(UsageError, match="segment column 'tier' is not in people"):
        _card(ws, MAY_29, c=c)


def test_detail_of_a_kind_without_leads_is_refused(ws: Workspace) -> None:
    c = load_contract(ws.contract_path)
    with pytest.raises(UsageError, match="no per-lead detail"):
        detail(ws.store(), c, "mql_volume", parse_period("2026-05"), MAY_29)


def test_a_period_that_has_not_started_has_no_data(ws: Workspace) -> None:
    card = _card(ws, datetime(2026, 6, 1), period="2026-06")
    assert set(card.drop(index="pipeline")["status"]) == {"no data"}
    assert card.loc["pipeline", "status"] == "no target"  # no plan for June
    assert card.loc["mql_volume", "trend"][-1] == 6  # May, complete


def test_public_api_is_pinned() -> None:
    import cueva.sla

    assert cueva.sla.__all__ == sorted(cueva.sla.__all__, key=lambda n: (not n.isupper(), n))
    assert set(cueva.sla.__all__) == {
        "ALERTS_TABLE", "FAILING", "RESULT_COLUMNS", "SCORECARD_COLUMNS", "STATUSES",
        "Cache", "CheckResult", "Delivery", "Message", "NotifyError",
        "breach_line", "build_message", "check", "current_period", "detail", "evaluate",
        "format_value", "notify", "now_in", "pending_alerts", "scorecard", "target_for",
    }  # fmt: skip
    for name in cueva.sla.__all__:
        assert getattr(cueva.sla, name) is not None
