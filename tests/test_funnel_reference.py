"""The funnel against an independent plain-pandas implementation, on seeded random companies.

The reference below re-implements the starter contract's stage rules and every metric
definition of docs/metrics.md row by row in pandas, without calling Cueva's metric code. The
random data has re-entries, skipped stages, out-of-order events, opportunities without a
person or account, open and closed deals, and people without a channel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cueva.importer import import_files
from cueva.metrics.funnel import funnel_report, stage_times
from cueva.periods import period_from_range
from cueva.workspace import Workspace

START = pd.Timestamp("2025-01-01")
DAYS = 540
WINDOW = 45
PERIOD = period_from_range("2025-04-01", "2026-03-31")
STAGES = ["lead", "mql", "sql", "opportunity", "won"]
CHANNELS = ["ads", "events", "seo", None]
FYS = 4  # a fiscal year from April, for the times by fiscal quarter


def _times(rng: np.random.Generator, n: int) -> pd.Series:
    # whole minutes between 08:00 and 20:00: no wall-clock time that a DST change skips
    day = rng.integers(0, DAYS, n)
    minute = rng.integers(8 * 60, 20 * 60, n)
    return pd.Series(START + pd.to_timedelta(day, "D") + pd.to_timedelta(minute, "min"))


def company(seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_people, n_opps = 400, 160
    accounts = pd.DataFrame({"account_id": [f"a{i}" for i in range(20)]})
    accounts["segment"] = rng.choice(["SMB", "ENT"], len(accounts))
    owners = pd.DataFrame({"owner_id": ["s1", "s2", "s3"], "team": "sales"})
    people = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(n_people)],
            "account_id": rng.choice([*accounts.account_id, None], n_people),
            "created_at": _times(rng, n_people),
            "channel": rng.choice(np.array(CHANNELS, dtype=object), n_people),
            "owner_id": rng.choice(owners.owner_id, n_people),
        }
    )
    events = []
    for stage, share in (("lead", 0.1), ("mql", 0.6), ("sql", 0.4)):
        # later stages mostly after the person's creation; some out of order; re-entries
        who = people.sample(frac=share, random_state=int(rng.integers(1 << 31)))
        lag = pd.to_timedelta(rng.integers(-5 * 1440, 60 * 1440, len(who)), "min")
        at = (who.created_at + lag).dt.floor("h")
        at = at.where((at.dt.hour >= 8) & (at.dt.hour < 20), at.dt.normalize() + pd.Timedelta("9h"))
        events.append(pd.DataFrame({"entity_id": who.person_id, "stage": stage, "entered_at": at}))
    ev = pd.concat(events, ignore_index=True)
    again = ev.sample(frac=0.1, random_state=seed)
    again = again.assign(entered_at=again.entered_at + pd.Timedelta(days=3))
    ev = pd.concat([ev, again], ignore_index=True).drop_duplicates()
    ev.insert(0, "entity_type", "person")

    person = rng.choice([*people.person_id, None], n_opps)
    created = _times(rng, n_opps)
    closed = rng.random(n_opps) < 0.7
    won = closed & (rng.random(n_opps) < 0.4)
    close = (created + pd.to_timedelta(rng.integers(0, 120, n_opps), "D")).dt.normalize()
    opps = pd.DataFrame(
        {
            "opportunity_id": [f"o{i}" for i in range(n_opps)],
            "account_id": rng.choice([*accounts.account_id, None, None], n_opps),
            "person_id": person,
            "owner_id": rng.choice(owners.owner_id, n_opps),
            "created_at": created,
            "close_date": close.dt.date,
            "is_closed": closed,
            "is_won": won,
            "amount": rng.integers(1, 100, n_opps) * 100.0,
        }
    )
    return {
        "owners": owners,
        "accounts": accounts,
        "people": people,
        "stage_events": ev,
        "opportunities": opps,
    }


# ---------------------------------------------------------------- the pandas reference


def ref_entries(d: dict[str, pd.DataFrame]) -> pd.DataFrame:
    people, ev, opps = d["people"], d["stage_events"], d["opportunities"]
    rows = []
    lead = pd.concat(
        [
            people[["person_id", "created_at"]].rename(columns={"created_at": "ts"}),
            ev[ev.stage == "lead"][["entity_id", "entered_at"]].set_axis(
                ["person_id", "ts"], axis=1
            ),
        ]
    )
    rows.append(lead.groupby("person_id").ts.min().reset_index().assign(stage="lead"))
    for stage in ("mql", "sql"):
        e = ev[ev.stage == stage].groupby("entity_id").entered_at.min().reset_index()
        rows.append(e.set_axis(["person_id", "ts"], axis=1).assign(stage=stage))
    persons = pd.concat(rows, ignore_index=True)
    persons["entity_id"] = persons.person_id
    o = opps.assign(entity_id=opps.opportunity_id)
    opp_stage = o.assign(ts=o.created_at, stage="opportunity")
    won = o[o.is_won].assign(ts=pd.to_datetime(o.close_date), stage="won")
    out = pd.concat([persons, opp_stage, won], ignore_index=True)[
        ["entity_id", "person_id", "stage", "ts"]
    ]
    channel = people.set_index("person_id").channel
    out["channel"] = out.person_id.map(channel).fillna("(none)")
    return out


def in_period(at: pd.Series) -> pd.Series:
    return (at >= pd.Timestamp(PERIOD.start)) & (at < pd.Timestamp(PERIOD.end))


def ref_counts(e: pd.DataFrame) -> dict[tuple[str, str, str], int]:
    e = e[in_period(e.ts)]
    month = e.ts.dt.strftime("%Y-%m")
    return e.groupby([e.channel, month, e.stage]).size().to_dict()


def ref_pairs(e: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Per entry into A: the first linked entry into B (same entity, or person for sql ->
    opportunity)."""
    key = "person_id" if (a, b) == ("sql", "opportunity") else "entity_id"
    ea = e[e.stage == a]
    eb = e[(e.stage == b) & e[key].notna()].groupby(key).ts.min().rename("b_at")
    return ea.join(eb, on=key)


def ref_cohort(e: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    out = {}
    for a, b in itertools.pairwise(STAGES):
        p = ref_pairs(e, a, b)
        p = p[in_period(p.ts)]
        reached = p.b_at.notna() & (p.b_at <= p.ts + pd.Timedelta(days=WINDOW))
        for ch, g in p.assign(reached=reached).groupby("channel"):
            out[(ch, a)] = (len(g), int(g.reached.sum()))
    return out


def ref_times(
    e: pd.DataFrame, label: Callable[[pd.Series], pd.Series] | None = None
) -> dict[tuple[str, ...], tuple[int, float, float]]:
    """(channel, [bucket label of ``label``,] stage A) -> (pairs, median, p90 days)."""
    out: dict[tuple[str, ...], tuple[int, float, float]] = {}
    for a, b in itertools.pairwise(STAGES):
        key = "person_id" if (a, b) == ("sql", "opportunity") else "entity_id"
        ea = e[(e.stage == a) & e[key].notna()].groupby(key).ts.min().rename("a_at")
        eb = e[(e.stage == b) & in_period(e.ts)].join(ea, on=key)
        eb = eb[eb.a_at.notna() & (eb.a_at <= eb.ts)]
        days = (eb.ts - eb.a_at).dt.total_seconds() / 86400
        keys = [eb.channel] if label is None else [eb.channel, label(eb.ts)]
        for k, g in days.groupby(keys):
            out[(*k, a)] = (len(g), float(np.quantile(g, 0.5)), float(np.quantile(g, 0.9)))
    return out


def month_label(ts: pd.Series) -> pd.Series:
    return ts.dt.strftime("%Y-%m")


def fiscal_quarter_label(ts: pd.Series) -> pd.Series:
    # fiscal year from April (FYS), named by the year it ends in
    fy = ts.dt.year + (ts.dt.month >= FYS)
    q = (ts.dt.month - FYS) % 12 // 3 + 1
    return "FY" + fy.astype(str) + "-Q" + q.astype(str)


def week_label(ts: pd.Series) -> pd.Series:
    iso = ts.dt.isocalendar()
    return iso.year.astype(str) + "-W" + iso.week.map("{:02d}".format)


def ref_deals(d: dict[str, pd.DataFrame]) -> dict[str, dict[str, float]]:
    o = d["opportunities"]
    channel = d["people"].set_index("person_id").channel
    o = o.assign(channel=o.person_id.map(channel).fillna("(none)"))
    close = pd.to_datetime(o.close_date)
    o = o[o.is_closed & in_period(close)]
    out = {}
    for ch, g in o.groupby("channel"):
        w = g[g.is_won]
        cycle = (pd.to_datetime(w.close_date) - w.created_at.dt.normalize()).dt.days
        out[ch] = {
            "won": len(w),
            "lost": len(g) - len(w),
            "win_rate": len(w) / len(g),
            "win_rate_value": w.amount.sum() / g.amount.sum(),
            "avg_deal_size": w.amount.mean() if len(w) else np.nan,
            "sales_cycle_median_days": cycle.median() if len(w) else np.nan,
            "sales_cycle_mean_days": cycle.mean() if len(w) else np.nan,
        }
    return out


def ref_pipeline(d: dict[str, pd.DataFrame]) -> dict[str, tuple[int, float]]:
    o = d["opportunities"]
    channel = d["people"].set_index("person_id").channel
    o = o.assign(channel=o.person_id.map(channel).fillna("(none)"))
    end = pd.Timestamp(PERIOD.end)
    closed_by = o.is_closed & (pd.to_datetime(o.close_date) < end)
    open_ = o[(o.created_at < end) & ~closed_by]
    return {ch: (len(g), float(g.amount.sum())) for ch, g in open_.groupby("channel")}


# ---------------------------------------------------------------- the comparison


@pytest.fixture(scope="module", params=[1, 2])
def case(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]]:
    seed = request.param
    data = company(seed)
    root = tmp_path_factory.mktemp(f"ref{seed}")
    paths = []
    for name, frame in data.items():
        path: Path = root / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    ws = Workspace.init(root / "ws", "Random")
    import_files(ws.store(), paths, timezone=ws.contract.timezone)
    report = funnel_report(
        ws.store(), ws.contract, PERIOD, by="channel", grain="month", window_days=WINDOW
    )
    # without a grain, for the cohort and time checks, the deals and the pipeline
    flat = funnel_report(ws.store(), ws.contract, PERIOD, by="channel", window_days=WINDOW)
    report["flat"] = flat["stages"]
    report["deals_flat"] = flat["deals"]
    report["pipeline_flat"] = flat["pipeline"]
    fiscal = ws.contract.model_copy(update={"fiscal_year_start": FYS})
    for grain in ("quarter", "week"):
        report[f"times_{grain}"] = stage_times(ws.store(), fiscal, PERIOD, "channel", grain)
    ws.close()
    yield data, report


def test_counts_by_channel_and_month(case: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    data, report = case
    want = ref_counts(ref_entries(data))
    got = report["stages"]
    got_map = {(r.channel, r.period, r.stage): r.entered for r in got.itertuples()}
    assert {k: v for k, v in got_map.items() if v} == want
    assert sum(want.values()) > 300


def test_cohort_conversion_and_times(case: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    data, report = case
    e = ref_entries(data)
    cohorts, times = ref_cohort(e), ref_times(e)
    flat = report["flat"]
    checked = 0
    for r in flat[flat.next_stage.notna()].itertuples():
        n, reached = cohorts.get((r.channel, r.stage), (0, 0))
        assert (r.cohort, r.reached) == (n, reached), (r.channel, r.stage)
        pairs = times.get((r.channel, r.stage))
        if pairs is None:
            assert pd.isna(r.median_days)
        else:
            assert (r.median_days, r.p90_days) == pytest.approx(pairs[1:], abs=1e-6)
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    ("grain", "label"),
    [("month", month_label), ("quarter", fiscal_quarter_label), ("week", week_label)],
)
def test_times_by_bucket(
    case: tuple[dict, dict],  # type: ignore[type-arg]
    grain: str,
    label: Callable[[pd.Series], pd.Series],
) -> None:
    # the time between stages of each bucket (of the B entry): months, fiscal quarters from
    # April, ISO weeks
    data, report = case
    want = ref_times(ref_entries(data), label)
    got = report["stages"] if grain == "month" else report[f"times_{grain}"]
    if grain == "month":
        got = got[got.next_stage.notna()].rename(columns={"stage": "from_stage"})
    checked = 0
    for r in got.itertuples():
        pairs = want.get((r.channel, r.period, r.from_stage))
        if pairs is None:
            assert pd.isna(r.median_days), (r.channel, r.period, r.from_stage)
        else:
            assert (r.median_days, r.p90_days) == pytest.approx(pairs[1:], abs=1e-6)
            checked += 1
    assert checked == len(want) and checked >= 20


def test_deals_and_pipeline(case: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    data, report = case
    want = ref_deals(data)
    got = report["deals_flat"].set_index("channel")
    assert set(got.index) == set(want)
    for ch, metrics in want.items():
        for name, value in metrics.items():
            assert got.loc[ch, name] == pytest.approx(value, nan_ok=True), (ch, name)
    pipe = report["pipeline_flat"].set_index("channel")
    for ch, (n, amount) in ref_pipeline(data).items():
        assert (pipe.loc[ch, "open_deals"], pipe.loc[ch, "open_pipeline"]) == (
            n,
            pytest.approx(amount),
        )
