"""Journeys from the store: touchpoints before each credited milestone, built in the engine.

One journey per conversion (an entry into the contract's ``milestone`` stage, from
:func:`cueva.metrics.funnel.stage_entries`): the touches of the person (``level: person``) or
of every person of the account (``level: account``) in the ``lookback_days`` before the
milestone, in time order. With ``inactivity_days``, a gap longer than that between two touches
starts a new journey and only the last one (the one that reaches the milestone) counts.
People (or accounts) with touches and no conversion make non-converting journeys (their
touches in the ``lookback_days`` up to their last touch), which Markov and the conversion-rate
Shapley value need.

Money per conversion: for an opportunity milestone the opportunity's amount (pipeline), the
amount if won (revenue) and its gross margin if won; for a person milestone the same summed
over the person's opportunities.

Joins, windows and filters run in the engine (Ibis); only the touches of the journeys come
back, as columns, into a :class:`~cueva.attribution.paths.PathSet`.
"""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cueva.attribution.paths import MARK_CLOSE, MARK_LEAD, MARK_OPPORTUNITY, PathSet
from cueva.attribution.settings import AttributionSettings
from cueva.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    import ibis.expr.types as ir

    from cueva.contract import Contract
    from cueva.store import Store

MONEY = ("pipeline", "revenue", "gross_margin")
MARK_TIMES = (("lead_at", MARK_LEAD), ("opp_at", MARK_OPPORTUNITY), ("close_at", MARK_CLOSE))
DAY_S = 86_400.0


@dataclass
class Journeys:
    """Journeys from the store plus what the money outputs need."""

    paths: PathSet
    spend_by_channel: pd.Series  # channel -> cost
    spend_by_campaign: pd.Series  # campaign_id -> cost
    marketing_channels: list[str]
    influenced: np.ndarray  # bool per journey: has a marketing touch
    settings: AttributionSettings
    period: tuple[datetime | None, datetime | None]
    milestones: int = 0  # milestone entries in the period, with or without touches


def marketing_channel_set(settings: AttributionSettings, channels: list[str]) -> list[str]:
    if settings.marketing_channels is not None:
        return list(settings.marketing_channels)
    sales = {c.lower() for c in settings.sales_channels}
    return [c for c in channels if c.lower() not in sales]


def _stage_names(contract: Contract, settings: AttributionSettings) -> dict[str, str | None]:
    stages = contract.funnel.stages
    names = [s.name for s in stages]
    if settings.milestone not in names:
        raise UsageError(
            f"unknown milestone {settings.milestone!r}; the contract's stages are: "
            + ", ".join(names)
        )
    opp = [s.name for s in stages if s.entry.entity_type == "opportunity"]
    won = "won" if "won" in names else (opp[-1] if len(opp) > 1 else None)
    return {
        "milestone": settings.milestone,
        "lead": names[0],
        "opportunity": opp[0] if opp else None,
        "close": won,
    }


def journeys_from_store(
    store: Store,
    contract: Contract,
    settings: AttributionSettings | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    marks: bool = True,
) -> Journeys:
    """Build the journeys for ``settings`` (default: the contract's) whose milestone falls in
    ``[start, end)`` (both optional). ``marks=False`` skips the milestone marks (the lead,
    opportunity and close touches), which only W-shaped and full-path need."""
    from cueva.metrics.funnel import stage_entries

    s = settings or contract.attribution
    st = _stage_names(contract, s)
    milestone_stage = contract.funnel.stage(s.milestone)
    wanted = sorted({v for v in st.values() if v is not None})
    entries = stage_entries(store, contract, stages=wanted)
    con = store.con

    opps = store.table("opportunities")
    opp_money = opps.select(
        o_id=opps.opportunity_id,
        o_person=opps.person_id,
        pipeline=opps.amount.fill_null(0.0),
        revenue=ibis.ifelse(opps.is_won.fill_null(False), opps.amount.fill_null(0.0), 0.0),
        gross_margin=ibis.ifelse(
            opps.is_won.fill_null(False), opps.gross_margin.fill_null(0.0), 0.0
        ),
    )

    m = entries.filter(entries.stage == s.milestone)
    if start is not None:
        m = m.filter(m.entered_at >= start)
    if end is not None:
        m = m.filter(m.entered_at < end)
    people = store.table("people")

    def stage_time(name: str | None, by: str) -> ir.Table | None:
        if name is None:
            return None
        e = entries.filter(entries.stage == name)
        return e.group_by(key=e[by]).aggregate(t=e.entered_at.min())

    lead_t = stage_time(st["lead"], "person_id")
    if milestone_stage.entry.entity_type == "opportunity":
        conv = m.select(
            conv_id=m.entity_id,
            person_id=m.person_id,
            account_id=m.account_id,
            opportunity_id=m.entity_id,
            at=m.entered_at,
        )
        conv = conv.left_join(opp_money, conv.opportunity_id == opp_money.o_id).select(
            conv, *[opp_money[c] for c in MONEY]
        )
        opp_t = stage_time(st["opportunity"], "entity_id")
        close_t = stage_time(st["close"], "entity_id")
        opp_key = "opportunity_id"
    else:
        conv = m.select(
            conv_id=m.entity_id,
            person_id=m.person_id,
            account_id=m.account_id,
            opportunity_id=ibis.null(str),
            at=m.entered_at,
        )
        money = opp_money.group_by(key=opp_money.o_person).aggregate(
            **{c: opp_money[c].sum() for c in MONEY}
        )
        conv = conv.left_join(money, conv.person_id == money.key).select(
            conv, *[money[c].fill_null(0.0).name(c) for c in MONEY]
        )
        opp_t = stage_time(st["opportunity"], "person_id")
        close_t = stage_time(st["close"], "person_id")
        opp_key = "person_id"

    for col, table, key in (
        ("lead_at", lead_t, "person_id"),
        ("opp_at", opp_t, opp_key),
        ("close_at", close_t, opp_key),
    ):
        if table is None:
            conv = conv.mutate(**{col: ibis.null("timestamp")})
        else:
            conv = conv.left_join(table, conv[key] == table.key).select(conv, table.t.name(col))

    # touches, with the account of the person when the touch has none
    tp = store.table("touchpoints")
    if s.level == "person":  # the account is not needed: no join with people
        tp = tp.select("touchpoint_id", "channel", "campaign_id", "occurred_at", "person_id")
    else:
        pa_ = people.select(p_id=people.person_id, p_account=people.account_id)
        tp = tp.left_join(pa_, tp.person_id == pa_.p_id).select(
            tp.touchpoint_id,
            tp.channel,
            tp.campaign_id,
            tp.occurred_at,
            tp.person_id,
            account=ibis.coalesce(tp.account_id, pa_.p_account),
        )
    unit = "person_id" if s.level == "person" else "account"
    conv_unit = "person_id" if s.level == "person" else "account_id"
    tp = tp.filter(tp[unit].notnull())
    lookback = ibis.interval(days=s.lookback_days)

    cj = conv.join(tp, conv[conv_unit] == tp[unit]).filter(
        lambda t: (t.occurred_at <= t.at) & (t.occurred_at >= t.at - lookback)
    )
    conv_touch = cj.select(
        journey=cj.conv_id,
        touchpoint_id=cj.touchpoint_id,
        channel=cj.channel,
        campaign_id=cj.campaign_id,
        occurred_at=cj.occurred_at.cast("timestamp"),
        at=cj.at.cast("timestamp"),
        lead_at=cj.lead_at.cast("timestamp"),
        opp_at=cj.opp_at.cast("timestamp"),
        close_at=cj.close_at.cast("timestamp"),
    )
    # non-converting journeys: units with touches and no conversion at all
    # (last touch per unit over all units first, then drop the converted units from that small
    # table: one pass over the touches instead of an anti-join evaluated twice)
    converted = conv.select(u=conv[conv_unit]).distinct()
    last = tp.group_by(u=tp[unit]).aggregate(at=tp.occurred_at.max())
    last = last.anti_join(converted, last.u == converted.u)
    rj = tp.join(last, tp[unit] == last.u).filter(lambda t: t.occurred_at >= t.at - lookback)
    null_touch = rj.select(
        journey=ibis.literal("~null:") + rj[unit].cast("string"),
        touchpoint_id=rj.touchpoint_id,
        channel=rj.channel,
        campaign_id=rj.campaign_id,
        occurred_at=rj.occurred_at.cast("timestamp"),
        at=rj.at.cast("timestamp"),
        lead_at=ibis.null("timestamp"),
        opp_at=ibis.null("timestamp"),
        close_at=ibis.null("timestamp"),
    )
    touches = ibis.union(conv_touch, null_touch, distinct=False)

    if s.inactivity_days is not None:
        w = ibis.window(group_by=touches.journey, order_by=[touches.occurred_at])
        gap = (
            touches.occurred_at.epoch_seconds() - touches.occurred_at.lag().over(w).epoch_seconds()
        )
        touches = touches.mutate(
            new=(gap > s.inactivity_days * DAY_S).fill_null(False).cast("int64")
        )
        touches = touches.mutate(seg=touches.new.cumsum().over(w))
        touches = touches.mutate(
            last_seg=touches.seg.max().over(ibis.window(group_by=touches.journey))
        )
        touches = touches.filter(touches.seg == touches.last_seg).drop("new", "seg", "last_seg")

    touches = touches.select(
        "journey",
        "touchpoint_id",
        "channel",
        "campaign_id",
        "occurred_at",
        age_days=(touches.at.epoch_seconds() - touches.occurred_at.epoch_seconds()) / DAY_S,
    )

    # marketing channels (of every touch with a unit, windowed or not)
    channels_all = sorted(
        str(c) for c in con.to_pyarrow(tp.select("channel").distinct())["channel"].to_pylist()
    )
    mkt = marketing_channel_set(s, channels_all)

    # The windowed touches are evaluated once into a temporary table, and their journeys
    # (numbered in journey-key order) into a second one; both are dropped when done.
    names = [f"_cueva_attr_{part}_{uuid.uuid4().hex}" for part in ("touches", "journeys")]
    try:
        con.create_table(names[0], touches, temp=True)
        t_tab = con.table(names[0])
        jt = t_tab.group_by("journey").aggregate(touches=t_tab.count())
        jt = jt.mutate(jidx=ibis.row_number().over(order_by=jt.journey))
        con.create_table(names[1], jt, temp=True)
        jframe, raw, tied_rows = _fetch(store, s, t_tab, con.table(names[1]), conv, people, mkt)
        order, at_us, pos, tied = _journey_order(raw, tied_rows)
    finally:
        for nm in names:
            con.drop_table(nm, force=True)
    tframe = _in_journey_order(raw, order, at_us, pos, tied)
    del raw

    n = jframe.num_rows
    lengths = np.asarray(jframe["touches"].to_numpy(zero_copy_only=False), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    channels, touches_np = tframe.channels, tframe.channel_codes
    campaigns, camp_codes = tframe.campaigns, tframe.campaign_codes
    measures = {"conversions": jframe["conversions"].to_numpy()}
    for c in MONEY:
        measures[c] = jframe[c].to_numpy()
    ps = PathSet(
        channels=channels,
        offsets=offsets,
        touches=touches_np,
        measures=measures,
        nulls=jframe["nulls"].to_numpy(),
        touch_age_days=tframe.age_days,
        marks=_marks(jframe, tframe.occurred_at, offsets) if marks else None,
        touch_campaign=camp_codes,
        campaigns=campaigns,
    )
    # campaign -> channel of its touches (first seen)
    if campaigns:
        first_touch_of = np.full(len(campaigns), -1, dtype=np.int64)
        has = camp_codes >= 0
        idx = np.flatnonzero(has)[::-1]
        first_touch_of[camp_codes[idx]] = idx
        ps.campaign_channel = [channels[touches_np[i]] if i >= 0 else "" for i in first_touch_of]

    mkt_codes = np.array([i for i, c in enumerate(channels) if c in set(mkt)], dtype=np.int32)
    is_mkt = np.isin(touches_np, mkt_codes)
    influenced = np.bincount(np.repeat(np.arange(n), lengths), weights=is_mkt, minlength=n) > 0
    nonempty = lengths > 0
    first_is_mkt = np.zeros(n, dtype=bool)
    first_is_mkt[nonempty] = is_mkt[offsets[:-1][nonempty]]
    if s.sourced_rule == "first_touch_marketing":
        sourced = first_is_mkt
    elif s.sourced_rule == "lead_source":
        ls = jframe["lead_source"].combine_chunks()
        low = pc.utf8_lower(pc.utf8_trim_whitespace(ls.fill_null("")))
        if s.marketing_lead_sources is not None:
            ok = pc.is_in(low, value_set=pa.array([x.lower() for x in s.marketing_lead_sources]))
        else:
            ok = pc.and_(
                pc.not_equal(low, ""),
                pc.invert(
                    pc.is_in(low, value_set=pa.array([x.lower() for x in s.sales_lead_sources]))
                ),
            )
        sourced = np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    else:
        fm = jframe["first_mkt"]
        fs = jframe["first_sales"]
        has_m = np.asarray(pc.is_valid(fm).to_numpy(zero_copy_only=False), dtype=bool)
        no_s = np.asarray(pc.is_null(fs).to_numpy(zero_copy_only=False), dtype=bool)
        before = pc.fill_null(pc.less(fm, fs), False).to_numpy(zero_copy_only=False)
        sourced = has_m & (no_s | np.asarray(before, dtype=bool))
    ps.journey_sourced = sourced

    spend_ch, spend_camp = _spend(store, s, start, end)
    return Journeys(
        paths=ps,
        spend_by_channel=spend_ch,
        spend_by_campaign=spend_camp,
        marketing_channels=mkt,
        influenced=influenced,
        settings=s,
        period=(start, end),
        milestones=int(con.to_pyarrow(m.count().as_table())[0][0].as_py()),
    )


def _fetch(
    store: Store,
    s: AttributionSettings,
    touches: ir.Table,
    numbered: ir.Table,
    conv: ir.Table,
    people: ir.Table,
    mkt: list[str],
) -> tuple[pa.Table, _Raw, Callable[[np.ndarray, np.ndarray], pa.Table]]:
    """The journey table (one row per journey, in ``numbered``'s ``jidx`` order, with its
    touch count and money) and the touches in journey order, from the materialised
    ``touches`` and ``numbered`` (journey, jidx, touches)."""
    jt = numbered
    jconv = conv.select("conv_id", "person_id", *MONEY, *[c for c, _ in MARK_TIMES])
    journeys = jt.left_join(jconv, jt.journey == jconv.conv_id).select(
        jt.journey,
        jt.jidx,
        jt.touches,
        jconv.person_id,
        *[jconv[c].cast("timestamp").name(c) for c, _ in MARK_TIMES],
        conversions=ibis.ifelse(jconv.conv_id.isnull(), 0.0, 1.0),
        nulls=ibis.ifelse(jconv.conv_id.isnull(), 1.0, 0.0),
        **{c: jconv[c].fill_null(0.0) for c in MONEY},
    )
    if s.sourced_rule == "lead_source":
        src = people.select(sp_id=people.person_id, lead_source=people.lead_source)
        journeys = journeys.left_join(src, journeys.person_id == src.sp_id).drop("sp_id")
    elif s.sourced_rule == "marketing_touch_before_sales_activity":
        act = store.table("activities")
        human = act.filter(~act.is_automated.fill_null(False) & act.person_id.notnull())
        first_act = human.group_by(a_person=human.person_id).aggregate(
            first_sales=human.occurred_at.min()
        )
        mt = touches.filter(touches.channel.isin(mkt) if mkt else ibis.literal(False))
        first_mkt = mt.group_by(m_journey=mt.journey).aggregate(first_mkt=mt.occurred_at.min())
        journeys = journeys.left_join(first_mkt, journeys.journey == first_mkt.m_journey).drop(
            "m_journey"
        )
        journeys = journeys.left_join(first_act, journeys.person_id == first_act.a_person).drop(
            "a_person"
        )
    con = store.con
    keys = numbered.select(k_journey=numbered.journey, k_jidx=numbered.jidx)
    tj = touches.join(keys, touches.journey == keys.k_journey)

    def cols(t: ir.Table) -> dict[str, ir.Value]:
        return {
            "jidx": t.k_jidx.cast("int32"),
            "occurred_at": t.occurred_at.cast("timestamp"),
            "channel": t.channel,
            "campaign_id": t.campaign_id,
            "age_days": t.age_days,
        }

    # streamed in batches: the engine never holds the whole result next to the Arrow copy
    # (Ibis 12 calls DuckDB's deprecated fetch_record_batch: silence that warning here only)
    # Each batch is turned into numpy codes at once (channel and campaign against their
    # distinct values), so the string columns are never held whole.
    dicts = [
        con.to_pyarrow(touches.select(c).distinct().order_by(c))[c].combine_chunks()
        for c in ("channel", "campaign_id")
    ]
    dicts = [d.drop_null() for d in dicts]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("jidx", "occ", "ch", "camp", "age")}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "fetch_record_batch", DeprecationWarning)
        for batch in con.to_pyarrow_batches(tj.select(**cols(tj))):
            parts["jidx"].append(_num(batch.column("jidx"), np.int32))
            parts["occ"].append(_as_us(batch.column("occurred_at")))
            parts["ch"].append(_codes(batch.column("channel"), dicts[0]))
            parts["camp"].append(_codes(batch.column("campaign_id"), dicts[1]))
            parts["age"].append(_num(batch.column("age_days"), np.float64))
    raw = _Raw(
        **{
            k: np.concatenate(v) if v else np.zeros(0, dtype=t)
            for (k, v), t in zip(
                parts.items(), (np.int32, np.int64, np.int32, np.int32, np.float64), strict=True
            )
        },
        ch_dict=dicts[0],
        camp_dict=dicts[1],
    )

    def tied_rows(jidx: np.ndarray, at_us: np.ndarray) -> pa.Table:
        # the touches of these (journey, time) pairs, in journey, time, id order: the pairs
        # are a small in-memory table, so the engine only streams the touches past it
        pairs = ibis.memtable(
            pa.table(
                {
                    "p_jidx": pa.array(jidx, pa.int32()),
                    "p_at": pa.array(at_us, pa.timestamp("us")),
                }
            )
        )
        tt = tj.join(
            pairs,
            (tj.k_jidx.cast("int32") == pairs.p_jidx)
            & (tj.occurred_at.cast("timestamp") == pairs.p_at),
        )
        return con.to_pyarrow(
            tt.order_by([tt.k_jidx, tt.occurred_at, tt.touchpoint_id]).select(**cols(tt))
        )

    # the journey table after the touches, without its string keys (not needed any more)
    jframe = con.to_pyarrow(journeys.order_by("jidx").drop("journey", "person_id", "jidx"))
    return jframe, raw, tied_rows


@dataclass
class _Raw:
    """The fetched touches, engine order: journey index, time (us), channel and campaign
    codes (into ``ch_dict`` / ``camp_dict``, null -1), age in days."""

    jidx: np.ndarray
    occ: np.ndarray
    ch: np.ndarray
    camp: np.ndarray
    age: np.ndarray
    ch_dict: pa.Array
    camp_dict: pa.Array


def _num(col: pa.Array | pa.ChunkedArray, dtype: Any) -> np.ndarray:
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=dtype)


@dataclass
class _Touches:
    """The touches in journey, time and touchpoint-id order."""

    channels: list[str]
    channel_codes: np.ndarray
    campaigns: list[str]
    campaign_codes: np.ndarray
    age_days: np.ndarray
    occurred_at: np.ndarray  # int64 microseconds


def _journey_order(
    raw: _Raw, tied_rows: Callable[[np.ndarray, np.ndarray], pa.Table]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Table | None]:
    """The permutation putting the fetched touches (integer ``jidx``, time, ...) in journey
    and time order (numpy sorts on the two integers: the engine's ORDER BY on string keys
    took most of the fetch), the sorted times, the positions of rows tied on both, and those
    rows again from ``tied_rows`` ordered by touchpoint id in the engine."""
    order = np.lexsort((raw.occ, raw.jidx))
    js, os_ = raw.jidx[order], raw.occ[order]
    same = (js[1:] == js[:-1]) & (os_[1:] == os_[:-1])
    tie = np.zeros(len(order), dtype=bool)
    tie[1:] |= same
    tie[:-1] |= same
    del same
    pos = np.flatnonzero(tie)
    if not len(pos):
        return order, os_, pos, None
    pj, pt = js[pos], os_[pos]
    first = np.ones(len(pos), dtype=bool)  # one (journey, time) pair per tied block
    first[1:] = (pj[1:] != pj[:-1]) | (pt[1:] != pt[:-1])
    tied = tied_rows(pj[first], pt[first])
    if tied.num_rows != len(pos):  # pragma: no cover - both come from the same table
        raise RuntimeError("tied touches changed between two reads of the same table")
    return order, os_, pos, tied


def _in_journey_order(
    raw: _Raw, order: np.ndarray, os_: np.ndarray, pos: np.ndarray, tied: pa.Table | None
) -> _Touches:
    """The touches' codes and values taken in ``order``; the tied blocks at ``pos`` are
    replaced by ``tied`` (the same rows in journey, time and touchpoint-id order)."""
    ch = raw.ch[order]
    camp = raw.camp[order]
    age = raw.age[order]
    if tied is not None:
        os_[pos] = _as_us(tied["occurred_at"])
        ch[pos] = _codes(tied["channel"], raw.ch_dict)
        camp[pos] = _codes(tied["campaign_id"], raw.camp_dict)
        age[pos] = _num(tied["age_days"], np.float64)
    channels, ch = _renumber(ch, raw.ch_dict)
    campaigns, camp = _renumber(camp, raw.camp_dict)
    return _Touches(channels, ch, campaigns, camp, age, os_)


def _codes(col: pa.Array | pa.ChunkedArray, dictionary: pa.Array) -> np.ndarray:
    idx = pc.index_in(col, value_set=dictionary)
    return np.asarray(idx.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)


def _renumber(codes: np.ndarray, dictionary: pa.Array) -> tuple[list[str], np.ndarray]:
    """Codes renumbered by first appearance (nulls stay -1), and the values they stand for."""
    values = dictionary.to_pylist()
    uniq, first = np.unique(codes[codes >= 0], return_index=True)
    by_first = uniq[np.argsort(first, kind="stable")]
    remap = np.full(len(values) + 1, -1, dtype=np.int32)  # last slot: code -1 stays -1
    remap[by_first] = np.arange(len(by_first), dtype=np.int32)
    return [str(values[i]) for i in by_first], remap[codes]


def _as_us(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Timestamps as int64 microseconds, nulls as the smallest int64."""
    arr = pc.cast(col, pa.timestamp("us"))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.int64())
    return np.asarray(arr.fill_null(np.iinfo(np.int64).min), dtype=np.int64)


def _marks(jframe: pa.Table, occ: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Milestone marks per touch: a flag on the latest touch(es) at or before the journey's
    lead / opportunity / close entry (every touch tied at that latest time gets it)."""
    lengths = np.diff(offsets)
    path = np.repeat(np.arange(len(lengths)), lengths)
    starts = offsets[:-1][lengths > 0]
    out = np.zeros(len(occ), dtype=np.uint8)
    low = np.iinfo(np.int64).min
    for col, flag in MARK_TIMES:
        limit = _as_us(jframe[col])
        has = limit != low
        before = (occ <= limit[path]) & has[path]
        if not before.any():
            continue
        latest = np.full(len(lengths), low, dtype=np.int64)
        latest[lengths > 0] = np.maximum.reduceat(np.where(before, occ, low), starts)
        out[before & (occ == latest[path])] |= flag
    return out


def _spend(
    store: Store, s: AttributionSettings, start: datetime | None, end: datetime | None
) -> tuple[pd.Series, pd.Series]:
    """Cost per channel and per campaign, over the milestones' window (from ``lookback_days``
    before ``start`` to ``end``; everything when they are not given)."""
    sp_ = store.table("spend")
    camps = store.table("campaigns")
    c = camps.select(c_id=camps.campaign_id, c_channel=camps.channel)
    j = sp_.left_join(c, sp_.campaign_id == c.c_id)
    j = j.select(
        date=j.date,
        cost=j.cost,
        campaign_id=j.campaign_id,
        channel=ibis.coalesce(j.channel, j.c_channel),
    )
    if start is not None:
        j = j.filter(j.date >= (start - pd.Timedelta(days=s.lookback_days)).date())
    if end is not None:
        j = j.filter(
            j.date < end.date() if end.time() == datetime.min.time() else j.date <= end.date()
        )
    con = store.con
    by_ch = con.to_pyarrow(j.group_by("channel").aggregate(cost=j.cost.sum())).to_pandas()
    by_camp = con.to_pyarrow(
        j.filter(j.campaign_id.notnull()).group_by("campaign_id").aggregate(cost=j.cost.sum())
    ).to_pandas()
    return (
        by_ch.dropna(subset=["channel"]).set_index("channel")["cost"].astype(float),
        by_camp.set_index("campaign_id")["cost"].astype(float),
    )


__all__ = ["MONEY", "Journeys", "journeys_from_store", "marketing_channel_set"]
