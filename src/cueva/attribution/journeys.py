"""Journeys from the store: touchpoints before each credited milestone, built in the engine.

One journey per conversion (an entry into the contract's ``milestone`` stage, from
:func:`cueva.metrics.funnel.stage_entries`): the touches of the person (``level: person``) or
of every person of the account (``level: account``) in the ``lookback_days`` before the
milestone, in time order. With ``inactivity_days``, a gap longer than that between two touches
starts a new journey and only the last one (the one that reaches the milestone) counts.
People (or accounts) with touches and no conversion make non-converting journeys (their
touches in the ``lookback_days`` up to their last touch), which Markov and the conversion-rate
Shapley value need; with a period, only units whose last touch before its end falls in it, so
no touch after the period counts.

Money per conversion: for an opportunity milestone the opportunity's amount (pipeline), the
amount if won (revenue) and its gross margin if won; for a person milestone the same summed
over the person's opportunities.

Joins and filters run in the engine (Ibis): the journeys are numbered once into a small
temporary table and their touches stream from one join with the touchpoints, as integer codes,
into a :class:`~cueva.attribution.paths.PathSet`; ordering, the inactivity split, ages and
milestone marks are numpy passes over those arrays.
"""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    ages: bool = True,
) -> Journeys:
    """Build the journeys for ``settings`` (default: the contract's) whose milestone falls in
    ``[start, end)`` (both optional). ``marks=False`` skips the milestone marks (the lead,
    opportunity and close touches), which only W-shaped and full-path need; ``ages=False``
    the touch ages, which only time decay needs."""
    from cueva.metrics.funnel import stage_entries

    s = settings or contract.attribution
    st = _stage_names(contract, s)
    milestone_stage = contract.funnel.stage(s.milestone)
    if not marks:  # the lead, opportunity and close times are only for the marks
        st = {"milestone": st["milestone"], "lead": None, "opportunity": None, "close": None}
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

    # The journeys, one row each, before their touches: the conversions (every milestone
    # entry in the period, touched or not) and the non-converting units (units with touches
    # and no conversion; with a period, those whose last touch before its end falls in it,
    # so no touch after the period counts). ``at`` ends the journey's window: the milestone,
    # or the unit's last touch. Numbered in journey-key order (conversion id, then
    # "~null:<unit>"), evaluated once into a temporary table.
    # (a unit's last touch before the end is in the period iff it has a touch in the period:
    # only the period's touches are grouped)
    converted = conv.select(u=conv[conv_unit]).distinct()
    tq = tp if end is None else tp.filter(tp.occurred_at < end)
    tq = tq if start is None else tq.filter(tq.occurred_at >= start)
    last = tq.group_by(u=tq[unit]).aggregate(at=tq.occurred_at.max())
    last = last.anti_join(converted, last.u == converted.u)
    ts = "timestamp"
    conv_j = conv.select(
        key=conv.conv_id,
        unit=conv[conv_unit],
        at=conv.at.cast(ts),
        person_id=conv.person_id,
        conversions=ibis.literal(1.0),
        **{c: conv[c].fill_null(0.0) for c in MONEY},
        **{c: conv[c].cast(ts) for c, _ in MARK_TIMES},
    )
    null_j = last.select(
        key=ibis.literal("~null:") + last.u.cast("string"),
        unit=last.u,
        at=last.at.cast(ts),
        person_id=ibis.null("string"),
        conversions=ibis.literal(0.0),
        **{c: ibis.literal(0.0) for c in MONEY},
        **{c: ibis.null(ts) for c, _ in MARK_TIMES},
    )
    jall = ibis.union(conv_j, null_j, distinct=False)
    jall = jall.mutate(jidx=ibis.row_number().over(order_by=jall.key).cast("int32"))

    # channels and campaigns of the touches with a unit from the lookback before the period
    # to its end (all of them without a period): the dictionaries the fetched touches are
    # coded against, and the marketing channels
    tw = tp if end is None else tp.filter(tp.occurred_at < end)
    if start is not None:
        tw = tw.filter(tw.occurred_at >= start - timedelta(days=s.lookback_days))
    pairs = con.to_pyarrow(tw.select("channel", "campaign_id").distinct())
    dicts = [
        pc.unique(pairs[c].combine_chunks()).drop_null().sort() for c in ("channel", "campaign_id")
    ]
    mkt = marketing_channel_set(s, [str(c) for c in dicts[0].to_pylist()])

    name = f"_cueva_attr_journeys_{uuid.uuid4().hex}"
    try:
        con.create_table(name, jall, temp=True)
        jt = con.table(name)
        jframe = _journey_frame(store, s, jt, people)
        raw, tied_rows = _fetch(con, s, jt, tp, unit, dicts)
        order, occ, pos, tied = _journey_order(raw, tied_rows)
    finally:
        con.drop_table(name, force=True)
    tframe = _in_journey_order(raw, order, occ, pos, tied)
    del raw, order
    if s.inactivity_days is not None:  # keep the last part of each journey
        tframe = tframe.take(_last_segment(tframe.jidx, tframe.occurred_at, s.inactivity_days))
    jidx = tframe.jidx

    n_all = jframe.num_rows
    milestones = int(np.asarray(jframe["conversions"]).sum())
    counts = np.bincount(jidx, minlength=n_all)
    touched = counts > 0
    jframe = jframe.filter(pa.array(touched))
    lengths = counts[touched].astype(np.int64)
    n = len(lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    channels, touches_np = _renumber(tframe.ch, tframe.ch_dict)
    campaigns, camp_codes = _renumber(tframe.camp, tframe.camp_dict)
    ends_us = _as_us(jframe["at"])
    age = None
    if ages:
        age = (np.repeat(ends_us, lengths) - tframe.occurred_at) / (DAY_S * 1e6)
    del jidx, tframe.jidx
    conversions = jframe["conversions"].to_numpy()
    measures = {"conversions": conversions}
    for c in MONEY:
        measures[c] = jframe[c].to_numpy()
    ps = PathSet(
        channels=channels,
        offsets=offsets,
        touches=touches_np,
        measures=measures,
        nulls=1.0 - conversions,
        touch_age_days=age,
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
    else:  # the journey's first marketing touch came before the person's first sales activity
        low = np.iinfo(np.int64).min
        mkt_at = np.flatnonzero(is_mkt)  # touches are in time order within a journey
        first_mkt = np.full(n, low, dtype=np.int64)
        journey_of = np.repeat(np.arange(n), lengths)[mkt_at]
        first_mkt[journey_of[::-1]] = tframe.occurred_at[mkt_at[::-1]]
        first_sales = _as_us(jframe["first_sales"])
        has_m = first_mkt != low
        sourced = has_m & ((first_sales == low) | (first_mkt < first_sales))
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
        milestones=milestones,
    )


def _journey_frame(
    store: Store, s: AttributionSettings, jt: ir.Table, people: ir.Table
) -> pa.Table:
    """One row per journey of the materialised journey table ``jt``, in ``jidx`` order: its
    conversions, money, window end ``at``, milestone times and what the sourced rule needs."""
    journeys = jt.select(
        "jidx", "person_id", "at", "conversions", *MONEY, *[c for c, _ in MARK_TIMES]
    )
    if s.sourced_rule == "lead_source":
        src = people.select(sp_id=people.person_id, lead_source=people.lead_source)
        journeys = journeys.left_join(src, journeys.person_id == src.sp_id).drop("sp_id")
    elif s.sourced_rule == "marketing_touch_before_sales_activity":
        act = store.table("activities")
        human = act.filter(~act.is_automated.fill_null(False) & act.person_id.notnull())
        first_act = human.group_by(a_person=human.person_id).aggregate(
            first_sales=human.occurred_at.cast("timestamp").min()
        )
        journeys = journeys.left_join(first_act, journeys.person_id == first_act.a_person).drop(
            "a_person"
        )
    return store.con.to_pyarrow(journeys.order_by("jidx").drop("jidx", "person_id"))


def _fetch(
    con: Any,
    s: AttributionSettings,
    jt: ir.Table,
    tp: ir.Table,
    unit: str,
    dicts: list[pa.Array],
) -> tuple[_Raw, Callable[[np.ndarray, np.ndarray], pa.Table]]:
    """The touches of every journey of ``jt`` (those in its window, ``lookback_days`` up to
    ``at``), streamed from the engine in batches with their integer journey index and turned
    into numpy codes one batch at a time (channel and campaign against ``dicts``), so neither
    the engine nor Python ever holds the string columns whole; and a function that fetches
    the touches of given (journey, time) pairs again in touchpoint-id order."""
    lookback = ibis.interval(days=s.lookback_days)
    keys = jt.select(k_jidx=jt.jidx, k_unit=jt.unit, k_at=jt.at)
    tj = keys.join(tp, keys.k_unit == tp[unit]).filter(
        lambda t: (t.occurred_at <= t.k_at) & (t.occurred_at >= t.k_at - lookback)
    )

    def cols(t: ir.Table) -> dict[str, ir.Value]:
        return {
            "jidx": t.k_jidx,
            "occurred_at": t.occurred_at.cast("timestamp"),
            "channel": t.channel,
            "campaign_id": t.campaign_id,
        }

    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("jidx", "occ", "ch", "camp")}
    # (Ibis 12 calls DuckDB's deprecated fetch_record_batch: silence that warning here only)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "fetch_record_batch", DeprecationWarning)
        for batch in con.to_pyarrow_batches(tj.select(**cols(tj))):
            parts["jidx"].append(_num(batch.column("jidx"), np.int32))
            parts["occ"].append(_as_us(batch.column("occurred_at")))
            parts["ch"].append(_codes(batch.column("channel"), dicts[0]))
            parts["camp"].append(_codes(batch.column("campaign_id"), dicts[1]))
    raw = _Raw(
        **{
            k: np.concatenate(v) if v else np.zeros(0, dtype=t)
            for (k, v), t in zip(
                parts.items(), (np.int32, np.int64, np.int32, np.int32), strict=True
            )
        },
        ch_dict=dicts[0],
        camp_dict=dicts[1],
    )
    del parts

    def tied_rows(jidx: np.ndarray, at_us: np.ndarray) -> pa.Table:
        # the touches of these (journey, time) pairs, in journey, time, id order: the pairs
        # are a small in-memory table joined first, so the engine only probes the touches
        pairs = ibis.memtable(
            pa.table(
                {
                    "p_jidx": pa.array(jidx, pa.int32()),
                    "p_at": pa.array(at_us, pa.timestamp("us")),
                }
            )
        )
        pk = keys.join(pairs, keys.k_jidx == pairs.p_jidx)
        tt = pk.join(tp, (pk.k_unit == tp[unit]) & (tp.occurred_at.cast("timestamp") == pk.p_at))
        return con.to_pyarrow(
            tt.order_by([tt.k_jidx, tt.p_at, tt.touchpoint_id]).select(**cols(tt))
        )

    return raw, tied_rows


@dataclass
class _Raw:
    """The fetched touches, engine order: journey index, time (us), channel and campaign
    codes (into ``ch_dict`` / ``camp_dict``, null -1)."""

    jidx: np.ndarray
    occ: np.ndarray
    ch: np.ndarray
    camp: np.ndarray
    ch_dict: pa.Array
    camp_dict: pa.Array


def _num(col: pa.Array | pa.ChunkedArray, dtype: Any) -> np.ndarray:
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=dtype)


@dataclass
class _Touches:
    """The touches in journey, time and touchpoint-id order: codes into ``ch_dict`` /
    ``camp_dict`` (null -1) and times (int64 microseconds)."""

    jidx: np.ndarray
    ch: np.ndarray
    camp: np.ndarray
    occurred_at: np.ndarray
    ch_dict: pa.Array
    camp_dict: pa.Array

    def take(self, keep: np.ndarray) -> _Touches:
        return _Touches(
            self.jidx[keep],
            self.ch[keep],
            self.camp[keep],
            self.occurred_at[keep],
            self.ch_dict,
            self.camp_dict,
        )


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
    jidx = raw.jidx[order]
    ch = raw.ch[order]
    camp = raw.camp[order]
    if tied is not None:
        os_[pos] = _as_us(tied["occurred_at"])
        ch[pos] = _codes(tied["channel"], raw.ch_dict)
        camp[pos] = _codes(tied["campaign_id"], raw.camp_dict)
    return _Touches(jidx, ch, camp, os_, raw.ch_dict, raw.camp_dict)


def _last_segment(jidx: np.ndarray, occ: np.ndarray, days: int) -> np.ndarray:
    """Which touches (in journey and time order) are in their journey's last part, when a
    gap of more than ``days`` days between two touches of a journey starts a new part."""
    n = len(jidx)
    if n == 0:
        return np.ones(0, dtype=bool)
    new = np.zeros(n, dtype=bool)
    new[1:] = (jidx[1:] == jidx[:-1]) & (occ[1:] - occ[:-1] > int(days * DAY_S * 1e6))
    new[np.flatnonzero(np.r_[True, jidx[1:] != jidx[:-1]])] = True  # every journey's start
    seg_start = np.maximum.accumulate(np.where(new, np.arange(n), 0))  # start of my part
    ends = np.r_[np.flatnonzero(jidx[1:] != jidx[:-1]), n - 1]  # every journey's last touch
    lengths = np.diff(np.r_[-1, ends])
    return seg_start == np.repeat(seg_start[ends], lengths)


def _codes(col: pa.Array | pa.ChunkedArray, dictionary: pa.Array) -> np.ndarray:
    """Codes of ``col``'s values in ``dictionary`` (which holds every value), null -1."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    idx = np.asarray(pc.index_in(col, value_set=dictionary).fill_null(-1), dtype=np.int32)
    return idx


def _renumber(codes: np.ndarray, dictionary: pa.Array) -> tuple[list[str], np.ndarray]:
    """Codes renumbered by first appearance (nulls stay -1), and the values they stand for."""
    values = dictionary.to_pylist()
    n = len(codes)
    first = np.full(len(values) + 1, n, dtype=np.int64)  # last slot: code -1
    np.minimum.at(first, codes, np.arange(n, dtype=np.int64))  # one pass, no sort
    seen = np.flatnonzero(first[:-1] < n)
    by_first = seen[np.argsort(first[seen], kind="stable")]
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
