"""Attribution from the store and the `cueva attribute` command.

A hand-made company; every expected number is worked out in the comments from these rows.
Starter contract: lead = people.created_at, opportunity = opportunities.created_at,
won = opportunities.close_date where is_won.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cueva.attribution.journeys import journeys_from_store
from cueva.attribution.paths import MARK_LEAD, MARK_OPPORTUNITY
from cueva.attribution.report import attribute_store
from cueva.cli import main
from cueva.importer import import_files
from cueva.workspace import Workspace
from tests.conftest import SHARED, shared_file, write

DATA = SHARED / "data" / "attribution"

ACCOUNTS = "account_id,name\na1,Alfa\na2,Beta\n"
PEOPLE = """person_id,account_id,created_at,lead_source
P1,a1,2026-01-01 12:00:00,Webinar
P2,a1,2026-01-05 00:00:00,Outbound
P3,a2,2026-01-10 00:00:00,
P4,a2,2026-01-12 00:00:00,Google Ads
"""
OPPORTUNITIES = """opportunity_id,account_id,person_id,created_at,close_date,is_closed,is_won,amount,gross_margin
O1,a1,P1,2026-02-01 10:00:00,2026-03-01,true,true,1000,600
O2,a2,P3,2026-02-15 00:00:00,2026-03-20,true,false,3000,1800
"""
# P1's email touch is 123 days before O1: outside the 90-day lookback.
TOUCHPOINTS = """touchpoint_id,person_id,campaign_id,channel,occurred_at
T1,P1,,email,2025-10-01 00:00:00
T2,P1,C1,webinar,2026-01-01 09:00:00
T3,P1,,paid,2026-01-20 00:00:00
T4,P2,,paid,2026-01-25 00:00:00
T5,P3,,events,2026-01-10 00:00:00
T6,P3,,email,2026-02-14 00:00:00
T7,P4,,paid,2026-01-12 00:00:00
T8,P4,,email,2026-01-13 00:00:00
"""
CAMPAIGNS = "campaign_id,name,channel\nC1,Spring webinar,webinar\n"
SPEND = "date,campaign_id,channel,cost\n2026-01-05,C1,,100\n2026-01-06,,paid,50\n"
ACTIVITIES = """activity_id,person_id,type,is_automated,occurred_at
A1,P1,call,false,2025-12-01 00:00:00
A2,P3,email,true,2026-01-01 00:00:00
"""


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("attr")
    ws = Workspace.init(root / "ws", "Attr Co")
    files = [
        write(root / "in" / f"{name}.csv", text)
        for name, text in [
            ("accounts", ACCOUNTS),
            ("people", PEOPLE),
            ("opportunities", OPPORTUNITIES),
            ("campaigns", CAMPAIGNS),
            ("touchpoints", TOUCHPOINTS),
            ("spend", SPEND),
            ("activities", ACTIVITIES),
        ]
    ]
    import_files(ws.store(), files, timezone=ws.contract.timezone)
    return ws


def credits(ws: Workspace, model: str, **changes: object) -> pd.DataFrame:
    s = ws.contract.attribution.override(**changes)
    r = attribute_store(ws.store(), ws.contract, model, s)
    return r.credits.set_index("channel")


def test_person_journeys_lookback_and_money(company: Workspace) -> None:
    j = journeys_from_store(company.store(), company.contract)
    ps = j.paths
    # O1: webinar, paid (email outside the lookback); O2: events, email; P2 and P4 never convert
    paths = dict(zip(ps.path_strings(), ps.conversions, strict=True))
    assert paths == {
        "webinar > paid": 1.0,
        "events > email": 1.0,
        "paid": 0.0,
        "paid > email": 0.0,
    }
    assert j.milestones == 2
    lin = credits(company, "linear")
    assert lin.conversions.to_dict() == pytest.approx(
        {"webinar": 0.5, "paid": 0.5, "events": 0.5, "email": 0.5}
    )
    assert lin.pipeline["events"] == pytest.approx(1500)  # half of O2's 3000
    assert lin.revenue["webinar"] == pytest.approx(500)  # half of O1's won 1000
    assert lin.revenue["events"] == 0  # O2 was lost
    assert lin.gross_margin["paid"] == pytest.approx(300)
    # spend: C1 (a webinar campaign) 100, paid 50 -> ROI (500 - 100) / 100, cost per conversion
    assert lin.spend["webinar"] == 100 and lin.spend["paid"] == 50
    assert lin.roi["webinar"] == pytest.approx(4.0)
    assert lin.cost_per_conversion["webinar"] == pytest.approx(200.0)
    assert np.isnan(lin.roi["events"])


def test_account_level_uses_every_person_of_the_account(company: Workspace) -> None:
    # O1 (a1): webinar, paid (P1), paid (P2, 01-25); O2 (a2): events, paid, email (P4), email
    lin = credits(company, "linear", level="account")
    assert lin.conversions["paid"] == pytest.approx(2 / 3 + 1 / 4)
    assert lin.conversions["webinar"] == pytest.approx(1 / 3)
    assert lin.conversions["email"] == pytest.approx(1 / 2)
    assert lin.conversions.sum() == pytest.approx(2.0)


def test_inactivity_split_keeps_the_last_journey(company: Workspace) -> None:
    # gaps of 19 days (O1) and 35 days (O2) start new journeys: only paid and email remain
    lin = credits(company, "linear", inactivity_days=15)
    conv = lin.conversions[lin.conversions > 0].to_dict()
    assert conv == pytest.approx({"paid": 1.0, "email": 1.0})


def test_period_journeys_use_no_touch_after_the_period(company: Workspace) -> None:
    """With a period, a non-converting journey is a unit whose last touch before the
    period's end falls in the period; touches after the period never count."""

    def paths(start: str, end: str) -> dict[str, float]:
        j = journeys_from_store(
            company.store(), company.contract, start=datetime(*map(int, start.split("-"))),
            end=datetime(*map(int, end.split("-"))),
        )  # fmt: skip
        return dict(zip(j.paths.path_strings(), j.paths.conversions, strict=True))

    # January: no opportunity; P1 (webinar 01-01, paid 01-20; email 10-01 is more than 90
    # days before 01-20), P2, P3 (events 01-10: its email of 02-14 is after January) and P4
    assert paths("2026-1-1", "2026-2-1") == {
        "webinar > paid": 0.0,
        "paid": 0.0,
        "events": 0.0,
        "paid > email": 0.0,
    }
    # February: O1 and O2; nobody else was touched in February, so no non-converting journey
    assert paths("2026-2-1", "2026-3-1") == {"webinar > paid": 1.0, "events > email": 1.0}
    # March: no touch at all
    assert paths("2026-3-1", "2026-4-1") == {}


def test_time_decay_and_w_shaped_on_real_timestamps(company: Workspace) -> None:
    td = credits(company, "time_decay", half_life_days=7)
    # O1 at 02-01 10:00: webinar 31 days 1 hour before, paid 12 days 10 hours before
    a, b = 2 ** (-(31 + 1 / 24) / 7), 2 ** (-(12 + 10 / 24) / 7)
    assert td.conversions["webinar"] == pytest.approx(a / (a + b))
    # W-shaped O1: webinar is first touch and the lead-creation touch (.3 + .3), paid the
    # opportunity-creation touch (.3); no other touch takes the .1 -> 2/3 and 1/3
    w = credits(company, "w_shaped")
    assert w.conversions["webinar"] == pytest.approx(2 / 3 + 0.0)
    # O2: events first touch (.3); P3 was created 01-10 00:00, events at 00:00 is the lead
    # touch (.3); email (02-14) is the opportunity touch (.3) -> 2/3 and 1/3
    assert w.conversions["events"] == pytest.approx(2 / 3)
    assert w.conversions["email"] == pytest.approx(1 / 3)


def test_sourced_rules(company: Workspace) -> None:
    def summary(**changes: object) -> pd.Series:
        s = company.contract.attribution.override(**changes)
        r = attribute_store(company.store(), company.contract, "linear", s)
        assert r.meta["sourced_rule"] == s.sourced_rule
        return r.summary.set_index("measure").loc["pipeline"]

    # first touch in the marketing channels: O1 (webinar first) yes, O2 (events) no
    row = summary(marketing_channels=["webinar", "paid"])
    assert (row.total, row.marketing_sourced, row.marketing_influenced) == (4000, 1000, 1000)
    # lead source: P1 "Webinar" is marketing, P3 has none
    assert summary(sourced_rule="lead_source").marketing_sourced == 1000
    # P1 had a human sales call before any touch; P3 only an automated email
    row = summary(sourced_rule="marketing_touch_before_sales_activity")
    assert row.marketing_sourced == 3000


def test_campaign_credit(company: Workspace) -> None:
    s = company.contract.attribution
    r = attribute_store(company.store(), company.contract, "first_touch", s)
    assert r.campaigns is not None
    c1 = r.campaigns.set_index("campaign_id").loc["C1"]
    assert (c1.channel, c1.conversions, c1.spend, c1.revenue) == ("webinar", 1.0, 100.0, 1000.0)


def test_store_markov_shapley_conserve_totals(company: Workspace) -> None:
    s = company.contract.attribution
    r = attribute_store(company.store(), company.contract, "all", s)
    for model, frame in r.credits.groupby("model"):
        assert frame.conversions.sum() == pytest.approx(2.0), model
        assert frame.pipeline.sum() == pytest.approx(4000.0), model
    assert list(r.comparison.columns[1:]) == r.meta["models"]


def test_unknown_milestone(company: Workspace) -> None:
    from cueva.errors import UsageError

    with pytest.raises(UsageError, match="unknown milestone 'deal'"):
        credits(company, "linear", milestone="deal")


# ----------------------------------------------------------------- the demo's planted channel


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    from cueva.demo import create_demo

    path = tmp_path_factory.mktemp("demo") / "altamira"
    create_demo(path, seed=7, scale="small")
    return Workspace.open(path)


def test_demo_planted_webinar_gets_the_credit(demo: Workspace) -> None:
    """docs/demo.md (truth 5): for SQLs, with each journey all touches up to the SQL, webinar
    has the largest Markov removal effect and share (0.607 / 0.149) and Shapley share (0.225)."""
    s = demo.contract.attribution.override(milestone="sql", lookback_days=3650)
    r = attribute_store(demo.store(), demo.contract, "markov,shapley", s)
    c = r.credits
    for model, expected in (("markov", 0.149), ("shapley", 0.225)):
        share = c[c.model == model].set_index("channel").conversions
        share = share / share.sum()
        assert share.idxmax() == "webinar", model
        assert share["webinar"] == pytest.approx(expected, abs=0.02), model
    assert r.removal_effects is not None
    re = r.removal_effects.set_index("channel").removal_effect
    assert re.idxmax() == "webinar"
    assert re["webinar"] == pytest.approx(0.607, abs=0.03)


# ----------------------------------------------------------------- the command


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.returncode, self.stdout, self.stderr = code, out, err


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    capsys.readouterr()
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Result(code, out, err)


def test_cli_path_file_csv(capsys: pytest.CaptureFixture[str]) -> None:
    shared_file("data", "attribution", "Data.csv")
    r = cli(
        capsys, "attribute", "--paths", str(DATA / "Data.csv"), "--sep", ";", "--model",
        "markov", "--order", "1", "--format", "csv",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    from io import StringIO

    frame = pd.read_csv(StringIO(r.stdout))
    assert list(frame.columns) == ["model", "channel", "conversions", "value", "removal_effect"]
    assert frame.conversions.sum() == pytest.approx(19785.0)
    assert frame.channel.iloc[0] == "alpha"


def test_cli_store_json_and_errors(company: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(company.path)
    r = cli(capsys, "attribute", ws, "--model", "linear,markov", "--format", "json")
    assert r.returncode == 0, r.stderr
    payload = json.loads(r.stdout)
    assert payload["sourced_rule"] == "first_touch_marketing"
    assert payload["show"] == "comparison"
    assert {row["channel"] for row in payload["rows"]} == {"webinar", "paid", "events", "email"}
    r = cli(capsys, "attribute", ws, "-m", "markov", "--show", "transitions", "-f", "csv")
    assert r.returncode == 0 and "(start),webinar" in r.stdout
    # ordered Shapley by position: O1 webinar > paid, O2 events > email, half a conversion each
    r = cli(capsys, "attribute", ws, "-m", "shapley_ordered", "--show", "positions", "-f", "json")
    assert r.returncode == 0, r.stderr
    cells = {(x["channel"], x["position"]): x["conversions"] for x in json.loads(r.stdout)["rows"]}
    assert cells == {("webinar", 1): 0.5, ("paid", 2): 0.5, ("events", 1): 0.5, ("email", 2): 0.5}
    # campaign credit of a data-driven model: webinar's touches are all of campaign C1
    r = cli(capsys, "attribute", ws, "-m", "markov", "--show", "campaigns", "-f", "json")
    assert r.returncode == 0, r.stderr
    (c1,) = json.loads(r.stdout)["rows"]
    webinar = credits(company, "markov").conversions["webinar"]
    assert (c1["campaign_id"], c1["channel"]) == ("C1", "webinar")
    assert c1["conversions"] == pytest.approx(webinar) and webinar > 0
    for args, message in [
        (("-m", "nope"), "error: unknown model 'nope'"),
        (("-m", "linear", "--show", "removal"), "needs the markov model"),
        (("-m", "shapley", "--show", "positions"), "needs the ordered Shapley model"),
        (("--order", "0"), "error: --order: Input should be greater than or equal to 1"),
        (("--level", "team"), "error: --level"),
        (("--from", "2026-01-01"), "give both --from and --to"),
    ]:
        r = cli(capsys, "attribute", ws, *args)
        assert r.returncode == 1, args
        assert message in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = cli(capsys, "attribute")
    assert r.returncode == 1 and "give a workspace folder" in r.stderr


def test_cli_malformed_path_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path / "p.csv", "path;total_conversions\na > b;1\n > ;2\n")
    r = cli(capsys, "attribute", "--paths", str(p))
    assert r.returncode == 1
    assert "p.csv row 3, column path ' > ': empty channel name" in r.stderr
    r = cli(capsys, "attribute", "--paths", str(p), "-m", "time_decay")
    assert r.returncode == 1 and "needs touch timestamps" in r.stderr


def test_every_setting_and_model_is_documented() -> None:
    from cueva.attribution.settings import MODEL_NAMES, AttributionSettings

    doc = (Path(__file__).resolve().parents[1] / "docs" / "attribution.md").read_text()
    for key in AttributionSettings.model_fields:
        assert f"`{key}`" in doc, key
    for name in MODEL_NAMES:
        assert f"`{name}`" in doc, name


def test_cli_subprocess_is_quiet_on_success(company: Workspace) -> None:
    """A real process: nothing on stderr at exit (no cleanup tracebacks from the engine)."""
    import subprocess
    import sys

    company.close()  # release the store's file lock; later tests reopen it
    proc = subprocess.run(
        [sys.executable, "-m", "cueva", "attribute", str(company.path), "-m", "all", "-f", "csv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("channel,")


def test_touches_at_the_same_time_are_ordered_by_id(tmp_path: Path) -> None:
    # P5's touches: events (01-10), then email (T9a) and paid (T9b) both at 01-20 12:00, listed
    # in the file in the reverse order: the journey orders them by touchpoint id, so last
    # touch is paid and both tied touches are the latest before the opportunity (02-01).
    ws = Workspace.init(tmp_path / "ws", "Ties Co")
    people = PEOPLE + "P5,a2,2026-01-15 00:00:00,\n"
    opps = OPPORTUNITIES + "O9,a2,P5,2026-02-01 00:00:00,,false,false,700,\n"
    touches = TOUCHPOINTS + (
        "T9b,P5,,paid,2026-01-20 12:00:00\n"
        "T9c,P5,,events,2026-01-10 00:00:00\n"
        "T9a,P5,,email,2026-01-20 12:00:00\n"
    )
    files = [
        write(tmp_path / "in" / f"{name}.csv", text)
        for name, text in [
            ("accounts", ACCOUNTS),
            ("people", people),
            ("opportunities", opps),
            ("campaigns", CAMPAIGNS),
            ("touchpoints", touches),
            ("spend", SPEND),
            ("activities", ACTIVITIES),
        ]
    ]
    import_files(ws.store(), files, timezone=ws.contract.timezone)
    ps = journeys_from_store(ws.store(), ws.contract).paths
    paths = dict(zip(ps.path_strings(), ps.conversions, strict=True))
    assert paths["events > email > paid"] == 1.0
    j = ps.path_strings().index("events > email > paid")
    marks = ps.marks[ps.offsets[j] : ps.offsets[j + 1]]
    # lead (P5 created 01-15): events is the latest touch before it; opportunity: both ties
    assert marks.tolist() == [MARK_LEAD, MARK_OPPORTUNITY, MARK_OPPORTUNITY]
    last = credits(ws, "last_touch")
    assert last.pipeline["paid"] == pytest.approx(1000 + 700)  # O1: webinar > paid; O9
    assert last.pipeline["email"] == pytest.approx(3000)  # O2: events > email
