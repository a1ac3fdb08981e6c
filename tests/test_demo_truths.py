"""The planted truths of the demo company, recovered from the generated tables by independent
computations (plain pandas, numpy and a per-row business-hours reference written here).

Tolerances: every rate is compared with its planted value within 4 binomial standard errors
computed from the counts in the data (a false alarm at 4 sigma has probability below 1e-4 per
check, and the seed is fixed, so the tests are deterministic); quantiles of the response time
within 12% (the standard error of a lognormal median from about 1,300 MQLs is about 2%).
The checks run on the ``medium`` scale (50k people), generated in about a second.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import holidays
import numpy as np
import pandas as pd
import pytest

from cueva.demo import generate, truths

T = truths


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    return {name: t.to_pandas() for name, t in generate(7, "medium").items()}


def _within(actual: float, expected: float, se: float, z: float = 4.0) -> None:
    assert abs(actual - expected) <= z * se, f"{actual:.4f} vs {expected:.4f} (4 se = {z * se:.4f})"


def _reached(demo: dict[str, pd.DataFrame], stage: str) -> pd.Series:
    ev = demo["stage_events"]
    ids = set(ev.loc[(ev.entity_type == "person") & (ev.stage == stage), "entity_id"])
    return demo["people"].person_id.isin(ids)


# ---------------------------------------------------------------- truth 1: channel quality


def test_events_leads_reach_sql_twice_as_often_as_paid_social(
    demo: dict[str, pd.DataFrame],
) -> None:
    people = demo["people"].assign(mql=_reached(demo, "mql"), sql=_reached(demo, "sql"))
    # cohorts of leads created until June 2026: their SQLs have happened by the end of the data
    people = people[people.created_at < "2026-07-01"]
    avg_lift = 1 + T.P_ENGAGE[T.CHANNELS.index("webinar")] * (T.WEBINAR_LIFT - 1)
    rates = {}
    for ch in (T.STRONG_CHANNEL, T.WEAK_CHANNEL):
        g = people[people.channel == ch]
        i = T.CHANNELS.index(ch)
        p_mql, p_sql = T.P_MQL[i], T.P_SQL[i] * avg_lift
        n, n_mql = len(g), int(g.mql.sum())
        _within(g.mql.mean(), p_mql, np.sqrt(p_mql * (1 - p_mql) / n))
        _within(g.sql.sum() / n_mql, p_sql, np.sqrt(p_sql * (1 - p_sql) / n_mql))
        p = p_mql * p_sql
        rates[ch] = (g.sql.mean(), np.sqrt(p * (1 - p) / n))
    (r1, se1), (r2, se2) = rates[T.STRONG_CHANNEL], rates[T.WEAK_CHANNEL]
    ratio = r1 / r2
    _within(ratio, 2.0, ratio * np.hypot(se1 / r1, se2 / r2))
    assert 1.7 < ratio < 2.3


# ---------------------------------------------------------------- truth 2: the slow rep


def _business_hours(a: datetime, b: datetime, hol: set[date]) -> float:
    """Reference: business hours (Mon-Fri 09-18, holidays off) between a and b, day by day."""
    total = 0.0
    day = a.date()
    while day <= b.date():
        if day.weekday() < 5 and day not in hol:
            lo = max(a, datetime.combine(day, time(9)))
            hi = min(b, datetime.combine(day, time(18)))
            total += max((hi - lo).total_seconds(), 0.0)
        day += timedelta(days=1)
    return total / 3600


def test_the_slow_rep_answers_mqls_late(demo: dict[str, pd.DataFrame]) -> None:
    ev = demo["stage_events"]
    mql = ev[ev.stage == "mql"][["entity_id", "entered_at"]].rename(
        columns={"entity_id": "person_id"}
    )
    act = demo["activities"]
    human = act[~act.is_automated.astype(bool)]
    first = human.groupby("person_id", as_index=False).agg(first=("occurred_at", "min"))
    owners = demo["people"][["person_id", "owner_id"]]
    df = mql.merge(first, on="person_id").merge(owners, on="person_id")
    hol = set(holidays.country_holidays("ES", subdiv="MD", years=range(2024, 2028)))
    df["hours"] = [
        _business_hours(a.to_pydatetime(), b.to_pydatetime(), hol)
        for a, b in zip(df.entered_at, df["first"], strict=True)
    ]
    assert (df.hours >= 0).all()
    by_rep = df.groupby("owner_id").hours
    med, p90 = by_rep.median(), by_rep.quantile(0.9)
    slow_median, slow_sigma = T.REP_RESPONSE_HOURS[2]
    assert med[T.SLOW_REP_ID] == pytest.approx(slow_median, rel=0.12)
    assert p90[T.SLOW_REP_ID] == pytest.approx(slow_median * np.exp(1.2816 * slow_sigma), rel=0.12)
    others = med.drop(T.SLOW_REP_ID)
    assert others.max() < 2.0 and others.min() > 0.4
    assert med[T.SLOW_REP_ID] > 3 * others.max()
    # wall-clock waits depend on arrival: MQLs that arrive on a weekend wait far longer
    wall = (df["first"] - df.entered_at).dt.total_seconds() / 3600
    weekend = df.entered_at.dt.day_of_week >= 5
    assert wall[weekend].median() > 24 > wall[~weekend].median()


# ---------------------------------------------------------------- truth 3: six-week drop


def test_paid_search_leads_drop_for_six_weeks(demo: dict[str, pd.DataFrame]) -> None:
    p = demo["people"]
    start, end = pd.Timestamp(T.DROP_START), pd.Timestamp(T.DROP_END) + pd.Timedelta(days=1)
    six = pd.Timedelta(weeks=6)
    inside = (p.created_at >= start) & (p.created_at < end)
    around = ((p.created_at >= start - six) & (p.created_at < start)) | (
        (p.created_at >= end) & (p.created_at < end + six)
    )
    ps = p.channel == T.DROP_CHANNEL
    # paid_search leads relative to the other channels' (same seasonality and trend)
    r_in = ps[inside].sum() / (~ps[inside]).sum()
    r_out = ps[around].sum() / (~ps[around]).sum()
    ratio = r_in / r_out
    rel_se = np.sqrt(
        1 / ps[inside].sum()
        + 1 / (~ps[inside]).sum()
        + 1 / ps[around].sum()
        + 1 / (~ps[around]).sum()
    )
    _within(ratio, T.DROP_FACTOR, ratio * rel_se)
    # the drop is confined to those weeks: the weeks just before look like the weeks after
    before = (p.created_at >= start - six) & (p.created_at < start)
    after = (p.created_at >= end) & (p.created_at < end + six)
    r_b = ps[before].sum() / (~ps[before]).sum()
    r_a = ps[after].sum() / (~ps[after]).sum()
    assert r_b == pytest.approx(r_a, rel=0.2)


# ---------------------------------------------------------------- truth 4: the missed quarter


def test_2026_q2_win_rate_fell_and_nothing_else_moved(demo: dict[str, pd.DataFrame]) -> None:
    o = demo["opportunities"]
    o = o[(o.type == "new") & o.is_closed.astype(bool)].copy()
    o["quarter"] = pd.PeriodIndex(pd.to_datetime(o.close_date), freq="Q").astype(str)
    by_q = o.groupby("quarter").agg(n=("is_won", "size"), won=("is_won", "sum"))
    by_q["rate"] = by_q.won / by_q.n
    trend_q = ["2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q3"]
    trend = by_q.loc[trend_q]
    p_trend = trend.won.sum() / trend.n.sum()
    q2 = by_q.loc["2026Q2"]
    _within(q2.rate, p_trend * T.MISSED_QUARTER_WIN_FACTOR, np.sqrt(q2.rate * (1 - q2.rate) / q2.n))
    assert q2.rate < 0.8 * trend.rate.min()
    for q, row in trend.iterrows():  # every other quarter is near trend
        _within(row.rate, p_trend, np.sqrt(p_trend * (1 - p_trend) / row.n), z=4.0), q
    # deal size and the number of deals closing stay on trend in Q2
    o["q2"] = o.quarter == "2026Q2"
    o1 = o[o.quarter.isin([*trend_q, "2026Q2"])]
    size = o1.groupby("q2").amount.median()
    assert size[True] == pytest.approx(size[False], rel=0.12)
    assert q2.n == pytest.approx(by_q.loc[["2026Q1", "2026Q3"]].n.mean(), rel=0.25)
    # lost to a competitor: 40% of the quarter's losses instead of 18%
    lost = o[~o.is_won.astype(bool)]
    share = lost.groupby("q2").lost_reason.apply(lambda s: (s == "competitor").mean())
    n_lost_q2 = int((~o[o.q2].is_won.astype(bool)).sum())
    p = T.MISSED_QUARTER_COMPETITOR_SHARE
    _within(share[True], p, np.sqrt(p * (1 - p) / n_lost_q2))


def test_2026_q2_lead_volume_and_mql_rate_on_trend(demo: dict[str, pd.DataFrame]) -> None:
    p = demo["people"].assign(mql=_reached(demo, "mql"))
    q = pd.PeriodIndex(p.created_at, freq="Q").astype(str)
    leads = p.groupby(q).size()
    # Q2 over Q1 grows like the trend (3 months of 1.2%) and the season (Q1 includes early January)
    assert 0.95 < leads["2026Q2"] / leads["2026Q1"] < 1.25
    mql = p.groupby(q).mql.mean()
    n = leads["2026Q2"]
    _within(mql["2026Q2"], mql["2026Q1"], np.sqrt(mql["2026Q1"] * (1 - mql["2026Q1"]) * 2 / n))


# ---------------------------------------------------------------- truth 5: webinar touches


_JOURNEYS: dict[int, tuple[pd.DataFrame, pd.Series]] = {}


def _journeys(demo: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.Series]:
    """Touches before each person's SQL (all touches for the others), ordered, and who reached
    SQL (computed once per generated company)."""
    key = id(demo["touchpoints"])
    if key not in _JOURNEYS:
        _JOURNEYS.clear()
        _JOURNEYS[key] = _compute_journeys(demo)
    return _JOURNEYS[key]


def _compute_journeys(demo: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.Series]:
    tp = demo["touchpoints"][["person_id", "channel", "occurred_at"]]
    ev = demo["stage_events"]
    sql = ev[ev.stage == "sql"].set_index("entity_id").entered_at
    tp = tp.assign(sql_at=tp.person_id.map(sql))
    tp = tp[tp.sql_at.isna() | (tp.occurred_at <= tp.sql_at)]
    tp = tp.sort_values(["person_id", "occurred_at"], kind="stable")
    converted = demo["people"].set_index("person_id").index.isin(sql.index)
    return tp, pd.Series(converted, index=demo["people"].person_id)


def test_a_webinar_touch_lifts_mql_acceptance(demo: dict[str, pd.DataFrame]) -> None:
    tp, _ = _journeys(demo)
    has_web = set(tp.loc[tp.channel == T.LIFT_CHANNEL, "person_id"])
    p = demo["people"].assign(mql=_reached(demo, "mql"), sql=_reached(demo, "sql"))
    m = p[p.mql & (p.created_at < "2026-07-01") & (p.channel != T.LIFT_CHANNEL)]
    web = m.person_id.isin(has_web)
    a, b = m.sql[web], m.sql[~web]
    ratio = a.mean() / b.mean()
    rel = np.hypot(np.sqrt((1 - a.mean()) / a.sum()), np.sqrt((1 - b.mean()) / b.sum()))
    _within(ratio, T.WEBINAR_LIFT, ratio * rel)
    # no other channel's touches lift acceptance (within 4 se of 1, allowing for the webinar mix)
    for ch in ("email", "content", "paid_search"):
        has = m.person_id.isin(set(tp.loc[tp.channel == ch, "person_id"]))
        r = m.sql[has].mean() / m.sql[~has].mean()
        assert r < 1.2, (ch, r)


def _markov_removal_effects(tp: pd.DataFrame, converted: pd.Series) -> pd.Series:
    """Order-1 Markov chain (consecutive repeats collapsed), removal effects by linear algebra."""
    channels = sorted(tp.channel.unique())
    idx = {c: i for i, c in enumerate(channels)}
    k = len(channels)
    start, conv, null = k, k + 1, k + 2
    state = tp.channel.map(idx).to_numpy()
    person = tp.person_id.to_numpy()
    keep = np.ones(len(tp), bool)
    keep[1:] = (person[1:] != person[:-1]) | (state[1:] != state[:-1])
    state, person = state[keep], person[keep]
    first = np.ones(state.size, bool)
    first[1:] = person[1:] != person[:-1]
    last = np.ones(state.size, bool)
    last[:-1] = first[1:]
    end = np.where(converted.reindex(person).to_numpy(), conv, null)
    frm = np.concatenate(
        [np.full(first.sum(), start), state[np.flatnonzero(~first) - 1], state[last]]
    )
    to = np.concatenate([state[first], state[~first], end[last]])
    counts = np.zeros((k + 3, k + 3))
    np.add.at(counts, (frm, to), 1)

    def p_conv(removed: int | None) -> float:
        c = counts.copy()
        if removed is not None:
            c[:, null] += c[:, removed]
            c[:, removed] = 0
            c[removed, :] = 0
            c[removed, null] = 1
        transient = [*range(k), start]
        p = c / np.maximum(c.sum(axis=1, keepdims=True), 1)
        q = p[np.ix_(transient, transient)]
        r = p[transient, conv]
        x = np.linalg.solve(np.eye(len(transient)) - q, r)
        return float(x[-1])

    base = p_conv(None)
    return pd.Series({c: 1 - p_conv(i) / base for c, i in idx.items()})


def test_markov_and_shapley_credit_webinar_most(demo: dict[str, pd.DataFrame]) -> None:
    tp, converted = _journeys(demo)
    effects = _markov_removal_effects(tp, converted)
    assert effects.idxmax() == T.LIFT_CHANNEL, effects.sort_values()
    # Shapley over channel sets (v(S) = conversions of journeys whose channels are all in S):
    # each converting journey's credit is split equally among its distinct channels.
    conv = tp[tp.person_id.map(converted)]
    sets = conv.drop_duplicates(["person_id", "channel"])
    size = sets.groupby("person_id").channel.transform("size")
    shapley = (1 / size).groupby(sets.channel).sum()
    assert shapley.idxmax() == T.LIFT_CHANNEL, shapley.sort_values()


# ---------------------------------------------------------------- truth 6: rejection reasons


def test_part_of_rejected_leads_carry_a_reason(demo: dict[str, pd.DataFrame]) -> None:
    rejected = _reached(demo, "rejected")
    p = demo["people"][rejected]
    share = p.rejection_reason.notna().mean()
    _within(share, T.REASON_SHARE, np.sqrt(T.REASON_SHARE * (1 - T.REASON_SHARE) / len(p)))
    # only rejected leads carry a reason, and rejected leads never reached SQL
    assert demo["people"][~rejected].rejection_reason.isna().all()
    assert not (rejected & _reached(demo, "sql")).any()


# ---------------------------------------------------------------- the numbers in docs/demo.md


def measure(seed: int = 7, scale: str = "medium") -> None:
    """Print the planted truths as measured on a generated company (docs/demo.md quotes them).

    Run: .venv/bin/python -m tests.test_demo_truths [seed] [scale]
    """
    demo = {name: t.to_pandas() for name, t in generate(seed, scale).items()}
    p = demo["people"].assign(
        mql=_reached(demo, "mql"), sql=_reached(demo, "sql"), rejected=_reached(demo, "rejected")
    )
    print(f"seed {seed}, scale {scale}")
    c = p[p.created_at < "2026-07-01"]
    rate = c.groupby("channel")[["mql", "sql"]].mean()
    rate["mql_to_sql"] = c[c.mql].groupby("channel").sql.mean()
    print("1. lead->MQL, lead->SQL, MQL->SQL by channel (leads created to 2026-06-30):")
    print(rate.round(4).to_string())
    r = rate.sql
    print(f"   events / paid_social lead->SQL: {r['events'] / r['paid_social']:.3f}")

    ev = demo["stage_events"]
    mql = ev[ev.stage == "mql"][["entity_id", "entered_at"]].rename(
        columns={"entity_id": "person_id"}
    )
    act = demo["activities"]
    first = (
        act[~act.is_automated.astype(bool)]
        .groupby("person_id", as_index=False)
        .agg(first=("occurred_at", "min"))
    )
    df = mql.merge(first, on="person_id").merge(p[["person_id", "owner_id"]], on="person_id")
    hol = set(holidays.country_holidays("ES", subdiv="MD", years=range(2024, 2028)))
    df["hours"] = [
        _business_hours(a.to_pydatetime(), b.to_pydatetime(), hol)
        for a, b in zip(df.entered_at, df["first"], strict=True)
    ]
    g = df.groupby("owner_id").hours
    print("2. business hours MQL -> first human contact, by rep (p50, p90, MQLs):")
    print(
        pd.DataFrame({"p50": g.median(), "p90": g.quantile(0.9), "n": g.size()})
        .round(2)
        .to_string()
    )
    print(f"   MQLs never contacted by a human: {1 - len(df) / len(mql):.3f}")

    start, end = pd.Timestamp(T.DROP_START), pd.Timestamp(T.DROP_END) + pd.Timedelta(days=1)
    six = pd.Timedelta(weeks=6)
    ps = p.channel == T.DROP_CHANNEL
    for label, lo, hi in (
        ("before", start - six, start),
        ("during", start, end),
        ("after", end, end + six),
    ):
        w = (p.created_at >= lo) & (p.created_at < hi)
        print(
            f"3. paid_search leads {label:<6} {lo.date()}..{(hi - pd.Timedelta(days=1)).date()}: "
            f"{int(ps[w].sum()):>6}, other channels {int((~ps[w]).sum()):>6}"
        )

    o = demo["opportunities"]
    o = o[o.is_closed.astype(bool)].copy()
    o["quarter"] = pd.PeriodIndex(pd.to_datetime(o.close_date), freq="Q").astype(str)
    o["won_amount"] = o.amount.where(o.is_won.astype(bool), 0.0)
    q = o.groupby(["type", "quarter"]).agg(
        closed=("is_won", "size"), won=("is_won", "sum"), won_amount=("won_amount", "sum")
    )
    q["win_rate"] = q.won / q.closed
    print("4. closed deals by type and close quarter:")
    print(q.round(3).to_string())
    lost = o[~o.is_won.astype(bool) & (o.type == "new")]
    comp = lost.groupby(lost.quarter == "2026Q2").lost_reason.apply(
        lambda s: (s == "competitor").mean()
    )
    print(
        f"   share lost to a competitor: 2026Q2 {comp[True]:.3f}, other quarters {comp[False]:.3f}"
    )

    tp, converted = _journeys(demo)
    has_web = set(tp.loc[tp.channel == T.LIFT_CHANNEL, "person_id"])
    m = p[p.mql & (p.created_at < "2026-07-01") & (p.channel != T.LIFT_CHANNEL)]
    web = m.person_id.isin(has_web)
    print(
        f"5. MQL->SQL with a webinar touch {m.sql[web].mean():.4f} (n {int(web.sum())}), "
        f"without {m.sql[~web].mean():.4f} (n {int((~web).sum())}): "
        f"lift {m.sql[web].mean() / m.sql[~web].mean():.3f}"
    )
    effects = _markov_removal_effects(tp, converted)
    conv = tp[tp.person_id.map(converted)]
    sets = conv.drop_duplicates(["person_id", "channel"])
    shapley = (1 / sets.groupby("person_id").channel.transform("size")).groupby(sets.channel).sum()
    table = pd.DataFrame(
        {
            "markov_removal_effect": effects,
            "markov_share": effects / effects.sum(),
            "shapley_share": shapley / shapley.sum(),
        }
    ).sort_values("markov_share", ascending=False)
    print("   attribution of SQLs (journeys = touches up to the SQL):")
    print(table.round(3).to_string())

    rej = p[p.rejected]
    print(f"6. rejected MQLs {len(rej)}, with a reason {rej.rejection_reason.notna().mean():.4f}")


if __name__ == "__main__":
    import sys

    measure(
        int(sys.argv[1]) if len(sys.argv) > 1 else 7, sys.argv[2] if len(sys.argv) > 2 else "medium"
    )
