"""Gather the pack's results from the library's metric functions (the only step that touches
the store). Each section calls the public function of the part that owns the metric; a
section whose part is missing, or that the contract does not configure, is marked
unavailable with the reason, never filled with invented numbers."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from cueva.actions import list_actions, today_in
from cueva.errors import CuevaError, UsageError
from cueva.i18n import check_language
from cueva.periods import Period, parse_period, previous
from cueva.report._data import NOT_COMPUTED, PackData

if TYPE_CHECKING:
    from cueva.contract import Contract
    from cueva.store import Store
    from cueva.workspace import Workspace

#: Metrics of the funnel section (their definitions go into the glossary excerpt).
FUNNEL_METRICS = (
    "entered",
    "conversion_period",
    "conversion_cohort",
    "median_days",
    "win_rate",
    "won_amount",
    "avg_deal_size",
    "sales_cycle_median_days",
)


def _resolve_vs(vs: str | None, period: Period, fys: int) -> tuple[str, Period]:
    """("plan" or the comparison label, the comparison period for funnel and deals)."""
    if vs is None or vs == "plan":
        return "plan", previous(period, 1)[0]
    other = parse_period(vs, fys)
    if other == period:
        raise UsageError(
            f"--vs {vs} is the report period itself; compare with plan or another period"
        )
    return other.label, other


def _funnel(data: PackData, ws: Workspace, compare: Period) -> None:
    from cueva.metrics.funnel import funnel_report

    store, contract = ws.store(), ws.contract
    p = data.period
    both = _adjacent_buckets(p, compare, contract.fiscal_year_start)
    if both is not None:
        # one engine pass over both periods, bucketed (the same definitions as two calls)
        span, grain = both
        got = funnel_report(store, contract, span, grain=grain)
        stages, deals = got["stages"], got["deals"]
        data.funnel = _bucket(stages, p.label)
        data.deals = _bucket(deals, p.label)
        data.funnel_vs = _bucket(stages, compare.label)
        data.deals_vs = _bucket(deals, compare.label)
    if any(f is None for f in (data.funnel, data.deals, data.funnel_vs, data.deals_vs)):
        now = funnel_report(store, contract, p)
        before = funnel_report(store, contract, compare)
        data.funnel, data.deals = now["stages"], now["deals"]
        data.funnel_vs, data.deals_vs = before["stages"], before["deals"]
    data.compare_label = compare.label
    data.metrics_shown.extend(FUNNEL_METRICS)
    data.metrics_shown.extend(s.name for s in contract.funnel.stages)


def _adjacent_buckets(p: Period, compare: Period, fys: int) -> tuple[Period, str] | None:
    """(both periods as one span, the grain whose buckets they are) when ``compare`` is the
    calendar month or quarter just before ``p``; else None."""
    if p.kind != compare.kind or compare.end != p.start or p.kind not in ("month", "quarter"):
        return None
    if p.kind == "quarter" and fys != 1:
        return None  # quarter buckets follow the fiscal year and carry FY labels
    return Period(compare.start, p.end, f"{compare.label}..{p.label}"), p.kind


def _bucket(frame: pd.DataFrame, label: str) -> pd.DataFrame | None:
    part = frame[frame["period"] == label].drop(columns="period").reset_index(drop=True)
    return None if part.empty else part


def _plan_revenue(data: PackData, ws: Workspace) -> None:
    """The contract's targets for the period (used when comparing with the plan)."""
    if data.vs_label != "plan":
        return
    targets = ws.contract.targets.get(data.period.label)
    if targets is not None and targets.revenue is not None:
        data.revenue_plan = float(targets.revenue)
        counts = {
            "mql": targets.mqls,
            "sql": targets.sqls,
            "opportunity": targets.opportunities,
            "won": targets.deals_won,
        }
        rows = [(k, float(v)) for k, v in counts.items() if v is not None]
        names = {s.name for s in ws.contract.funnel.stages}
        rows = [(k, v) for k, v in rows if k in names]
        if rows:
            data.funnel_plan = pd.DataFrame(rows, columns=["stage", "planned"])


def _glossary(data: PackData, ws: Workspace) -> None:
    """The contract's definition of every metric shown; Cueva's registry definition (marked
    as such) for a shown metric the contract does not define yet."""
    contract = ws.contract
    shown = list(dict.fromkeys(data.metrics_shown))
    terms = {t.name: t for t in contract.glossary}
    stages = {s.name: s for s in contract.funnel.stages}
    rows: list[dict[str, Any]] = []
    for name in shown:
        if name in terms:
            t = terms[name]
            rows.append(
                {
                    "name": name,
                    "label": t.label_in(data.lang),
                    "definition": t.definition_in(data.lang),
                    "owner": t.owner,
                    "source": "contract",
                }
            )
        elif name in stages and stages[name].description:
            s = stages[name]
            rows.append(
                {
                    "name": name,
                    "label": s.label_in(data.lang),
                    "definition": s.description_in(data.lang),
                    "owner": s.owner,
                    "source": "contract",
                }
            )
        else:
            try:
                from cueva.metrics.registry import METRICS
            except ImportError:  # pragma: no cover - the registry ships with the funnel
                continue
            m = METRICS.get(name)
            if m is not None:
                rows.append(
                    {
                        "name": name,
                        "label": name,
                        "definition": m.definition,
                        "owner": m.owner,
                        "source": "registry",
                    }
                )
    data.glossary = pd.DataFrame(rows, columns=["name", "label", "definition", "owner", "source"])


def _section(data: PackData, key: str, fill: Any, *args: Any) -> None:
    """Run one section's collector; a missing part or a Cueva error (e.g. nothing
    configured in the contract) marks the section unavailable with the reason."""
    try:
        fill(data, *args)
    except ImportError as exc:
        data.unavailable[key] = NOT_COMPUTED
        data.missing_parts[key] = str(exc.name or exc)
    except CuevaError as exc:
        data.unavailable[key] = str(exc).splitlines()[0]


def collect_pack(
    ws: Workspace,
    period: str | Period,
    *,
    vs: str | None = None,
    lang: str | None = None,
    today: date | None = None,
    agenda_threshold: float = 0.05,
    segment_by: str | None = "channel",
    concurrent: bool = False,
) -> PackData:
    """Every result the pack shows for ``period`` (e.g. ``"2026-Q2"``), compared with the
    plan (``vs=None`` or ``"plan"``) or with another period (``vs="2026-Q1"``).

    With ``concurrent``, attribution and the scorecard (:data:`WORKER_SECTIONS`) run in
    worker threads, each on its own connection to the same store, while this thread collects
    funnel and gap; the engine releases the GIL while it scans, so they can overlap. The
    results are the same either way (each section is filled in the same order, and a
    worker's error marks its section unavailable as it would here). Off by default: on the
    shared two-core machine it was measured on, the sections are mostly Python (GIL-bound)
    and the overlap gained nothing measurable (docs/benchmarks.md, "Meeting pack")."""
    contract = ws.contract
    fys = contract.fiscal_year_start
    p = period if isinstance(period, Period) else parse_period(period, fys)
    if not 0 <= agenda_threshold <= 1:
        raise UsageError(
            f"the agenda threshold is a share of revenue in [0, 1], got {agenda_threshold}"
        )
    vs_label, compare = _resolve_vs(vs, p, fys)
    data = PackData(
        company=contract.company,
        period=p,
        vs_label=vs_label,
        currency=contract.currency,
        today=today or today_in(contract.timezone),
        generated_at=datetime.now().replace(microsecond=0),
        agenda_threshold=agenda_threshold,
        lang=check_language(lang or contract.language),
        segment_by=segment_by,
        contract=contract,
    )
    store = ws.store()
    side = _side_store(ws) if concurrent else None
    running: dict[str, Future[Any]] = {}
    with ThreadPoolExecutor(
        max_workers=max(1, len(WORKER_SECTIONS)), thread_name_prefix="cueva-pack"
    ) as pool:
        if side is not None:
            for key in WORKER_SECTIONS:
                running[key] = pool.submit(_ON_SIDE[key], side, contract, p)
        _section(data, "funnel", _funnel, ws, compare)
        _plan_revenue(data, ws)
        _section(data, "scorecard", _scorecard, ws, running.get("scorecard"))
        _section(data, "gap", _gap, ws, compare)
        _section(data, "attribution", _attribution, ws, running.get("attribution"))
        _glossary(data, ws)
        data.actions = list_actions(store, "open", today=data.today)
    return data


#: Sections that ``collect_pack(concurrent=True)`` runs in worker threads, each on its own
#: connection: the two that use no cached result of the main connection (attribution reads
#: the tables; the scorecard's cache is keyed by the time of the call) and together cost
#: about what funnel and gap cost on the main thread.
WORKER_SECTIONS: tuple[str, ...] = ("attribution", "scorecard")


def _side_store(ws: Workspace) -> Callable[[], Store] | None:
    """Opens a second connection to the workspace's store (for a worker thread), or None
    when the store has no second connection to give (an in-memory database)."""
    from cueva.store import Store

    url = ws.store().url
    if ":memory:" in url:
        return None
    return lambda: Store.open(url)


def _score_on(open_store: Callable[[], Store], contract: Contract, p: Period) -> Any:
    """cueva.sla.scorecard for the period, on a connection of its own."""
    from cueva.sla import scorecard

    with open_store() as store:
        return scorecard(store, contract, p)


def _attribute_on(open_store: Callable[[], Store], contract: Contract, p: Period) -> Any:
    """attribute_store for the period's milestones, on a connection of its own (opened and
    closed in the worker thread, so it overlaps with the other sections too)."""
    from cueva.attribution import attribute_store

    with open_store() as store:
        return attribute_store(store, contract, start=p.start_dt, end=p.end_dt)


# Sections computed by other parts (SLA scorecard, gap analysis, attribution): each filler
# calls that part's public function; see the module docs.


def _scorecard(data: PackData, ws: Workspace, running: Future[Any] | None = None) -> None:
    """cueva.sla.scorecard for the pack's period (each service level with its target,
    actual, status and trend); ``running``: the same call already started in a worker."""
    from cueva.contract import CUMULATIVE_KINDS, SHARE_KINDS
    from cueva.sla import scorecard

    if running is not None:
        frame = running.result()
    else:
        frame = scorecard(ws.store(), ws.contract, data.period)
    unit = frame["kind"].map(
        lambda k: (
            "share"
            if k in SHARE_KINDS
            else "money"
            if k in ("pipeline_created", "revenue")
            else "count"
            if k in CUMULATIVE_KINDS
            else None
        )
    )
    data.scorecard = frame.rename(columns={"service_level": "name", "owner": "giver"}).assign(
        unit=unit
    )
    for sla in ws.contract.service_levels:
        data.metrics_shown.extend([sla.name, *_SLA_TERMS.get(sla.kind, ())])
        if sla.kind == "volume":
            data.metrics_shown.append(f"{sla.stage}s")  # e.g. mqls


#: Glossary terms that a service level of each kind measures.
_SLA_TERMS: dict[str, tuple[str, ...]] = {
    "response_time": ("response_time",),
    "win_rate": ("win_rate",),
    "pipeline_created": ("pipeline",),
    "revenue": ("revenue",),
}


def _gap(data: PackData, ws: Workspace, compare: Period) -> None:
    """cueva.gap.gap_report against the saved plan (``--vs plan``) or the other period, and
    the same by segment for the breakdown."""
    from cueva.gap import caveat, gap_report, load_plan
    from cueva.gap.run import plan_counts

    store, contract = ws.store(), ws.contract
    kwargs: dict[str, Any] = {"language": data.lang}
    if data.vs_label == "plan":
        kwargs["plan"] = plan = load_plan(ws.path, data.period.label)
        # the saved plan's stage counts are the funnel's plan column
        totals = plan_counts(plan, contract, None).iloc[0]
        stages = [s.name for s in contract.funnel.stages]
        data.funnel_plan = pd.DataFrame(
            {"stage": stages, "planned": [float(totals[s]) for s in stages]}
        )
    else:
        kwargs["vs"] = compare
    result = gap_report(store, contract, data.period, **kwargs)
    data.gap = result.factors.assign(unit=result.factors["factor"].map(_factor_unit))
    data.revenue_base = float(result.base_total)
    data.revenue_actual = float(result.actual_total)
    data.gap_caveat = caveat(result)
    data.metrics_shown.extend(["revenue", *result.factors["factor"]])
    if data.segment_by and (data.vs_label != "plan" or kwargs["plan"].get("by") == data.segment_by):
        seg = gap_report(store, contract, data.period, by=data.segment_by, **kwargs)
        table = seg.segment_table()
        if not table.empty:
            labels = dict(zip(seg.factors["factor"], seg.factors["label"], strict=True))
            data.gap_segments = table
            data.gap_segment_labels = labels
            data.gap_segment_by = data.segment_by


def _factor_unit(key: str) -> str:
    if key == "leads":
        return "count"
    if key == "deal_size":
        return "money"
    if key == "mix":
        return "none"
    return "share"


def _attribution(data: PackData, ws: Workspace, running: Future[Any] | None = None) -> None:
    """cueva.attribution.attribute_store under the contract's model and settings, for the
    milestones reached in the period: credit per channel next to spend and ROI, and the
    marketing-sourced and influenced shares of pipeline. ``running``: the same call already
    started in a worker thread (its errors are raised here, as if it ran here)."""
    from cueva.attribution import attribute_store

    p = data.period
    if running is not None:
        result = running.result()
    else:
        result = attribute_store(ws.store(), ws.contract, start=p.start_dt, end=p.end_dt)
    model = str(result.meta["models"][0])
    credits = result.credits[result.credits["model"] == model]
    cols = {"gross_margin": "margin"}
    frame = credits.rename(columns=cols)
    keep = [c for c in ATTRIBUTION_COLUMNS if c in frame.columns]
    data.attribution = frame[keep].reset_index(drop=True)
    data.attribution_model = model
    data.attribution_milestone = str(result.meta.get("milestone") or "")
    data.sourced_rule = str(result.meta.get("sourced_rule") or "") or None
    summary = result.summary.set_index("measure")
    if "pipeline" in summary.index:
        row = summary.loc["pipeline"]
        total = float(row["total"])
        kinds = [
            (kind, float(row[col]))
            for kind, col in (
                ("sourced", "marketing_sourced"),
                ("influenced", "marketing_influenced"),
            )
            if col in row.index
        ]
        data.sourced = pd.DataFrame(
            {
                "kind": [k for k, _v in kinds],
                "pipeline": [v for _k, v in kinds],
                "share": [v / total if total else float("nan") for _k, v in kinds],
            }
        )
    data.metrics_shown.extend(["pipeline", "revenue", "spend"])


_ON_SIDE: dict[str, Callable[[Callable[[], Store], Contract, Period], Any]] = {
    "attribution": _attribute_on,
    "scorecard": _score_on,
}

#: Columns of PackData.attribution, in order (those the attribution result has).
ATTRIBUTION_COLUMNS = ("channel", "conversions", "pipeline", "revenue", "margin", "spend", "roi")


__all__ = ["FUNNEL_METRICS", "WORKER_SECTIONS", "collect_pack"]
