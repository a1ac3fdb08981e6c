"""Plans and gaps over a workspace: the functions the CLI, reports and the web call.

- :func:`make_plan`: measure the trailing window, build the reverse-funnel plan.
- :func:`save_plan` / :func:`load_plan`: the whole plan (every stage, per segment, with lags)
  goes to ``plans/<period>.yaml`` beside the contract; the numbers the contract's ``targets``
  know (revenue, pipeline, MQLs, SQLs, opportunities, deals won) also go into ``cueva.yaml``
  through :func:`cueva.contract.write_targets`, so service levels with ``target: plan`` read
  them.
- :func:`gap_report`: the decomposition of a period against the saved plan or another period,
  within-period or as a cohort (stages counted after the plan's lags).
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from cueva.contract import PeriodTargets, write_targets
from cueva.errors import UsageError, WorkspaceError
from cueva.gap.data import (
    ALL,
    baseline,
    counts_for,
    cumulative_shifts,
    data_end,
    default_window,
    opportunity_stage,
    period_counts,
)
from cueva.gap.decompose import GapResult, decompose
from cueva.gap.factors import metric_shape
from cueva.gap.plan import Plan, TargetKind, build_plan
from cueva.periods import Period

if TYPE_CHECKING:
    from cueva.contract import Contract
    from cueva.store import Store
    from cueva.workspace import Workspace

PLANS_DIR = "plans"
_TARGET_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")


def make_plan(
    store: Store,
    contract: Contract,
    period: Period,
    target_kind: TargetKind,
    target: float,
    *,
    window: Period | None = None,
    by: str | None = None,
    mix: dict[str, float] | None = None,
    assume: dict[str, float] | None = None,
) -> Plan:
    """The reverse-funnel plan for ``period`` from the trailing ``window`` (default: the last
    two full quarters before the period or the end of the data)."""
    win = window or default_window(store, contract, period)
    base = baseline(store, contract, win, by)
    return build_plan(contract, base, period, target_kind, target, mix=mix, assume=assume)


def plan_path(workspace: Path, period: str) -> Path:
    return workspace / PLANS_DIR / f"{period}.yaml"


def _contract_targets(plan: Plan, contract: Contract) -> dict[str, float]:
    total = plan.needed.sum()
    out = {"revenue": float(total["revenue"]), "pipeline": float(total["pipeline"])}
    names = {"mql": "mqls", "sql": "sqls"}
    opp = opportunity_stage(contract)
    if opp is not None:
        names[opp] = "opportunities"
    names[plan.stages[-1]] = "deals_won"
    for stage, field in names.items():
        if stage in total.index:
            out[field] = float(total[stage])
    return {k: v for k, v in out.items() if k in PeriodTargets.model_fields}


def save_plan(ws: Workspace, plan: Plan, *, targets: bool = True) -> tuple[Path, bool]:
    """Write the plan to ``plans/<period>.yaml`` and (for a month or quarter, with
    ``targets``) its headline numbers into the contract's targets. Returns the plan file and
    whether the contract was updated."""
    path = plan_path(ws.path, plan.period.label)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# Written by 'cueva plan --save'. The gap analysis reads it.\n" + yaml.safe_dump(
        plan.to_dict(), sort_keys=False, allow_unicode=True
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".plan-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    wrote = False
    if targets and _TARGET_PERIOD.match(plan.period.label):
        values: dict[str, float | None] = dict(_contract_targets(plan, ws.contract))
        write_targets(ws.contract_path, {plan.period.label: values})
        ws.__dict__.pop("contract", None)  # reload on next access
        wrote = True
    return path, wrote


def load_plan(workspace: Path, period: str) -> dict[str, Any]:
    """The saved plan of ``period`` as plain data; WorkspaceError when there is none."""
    path = plan_path(workspace, period)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkspaceError(
            f"{path}: no saved plan for {period} (make one with "
            f"'cueva plan {workspace} --period {period} --target revenue=... --save', "
            "give the contract a revenue target for it, "
            "or compare with another period: --vs 2026-Q1)"
        ) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("segments"), dict):
        raise UsageError(f"{path}: not a Cueva plan (no 'segments' mapping)")
    return data


def plan_for(ws: Workspace, period: Period, by: str | None = None) -> dict[str, Any]:
    """The plan a gap compares with: the saved plan of ``period`` (``plans/<period>.yaml``),
    else one made now from the contract's revenue target for the period and the trailing
    rates of the two quarters before it (what ``cueva plan --target revenue=<target>`` gives;
    marked ``derived: true``). WorkspaceError when there is neither."""
    if plan_path(ws.path, period.label).is_file():
        return load_plan(ws.path, period.label)
    targets = ws.contract.targets.get(period.label)
    revenue = targets.revenue if targets is not None else None
    if revenue is None or not revenue > 0:
        return load_plan(ws.path, period.label)  # raises: no saved plan, no target either
    plan = make_plan(ws.store(), ws.contract, period, "revenue", float(revenue), by=by)
    return {**plan.to_dict(), "derived": True}


def plan_counts(plan: dict[str, Any], contract: Contract, by: str | None) -> pd.DataFrame:
    """A saved plan as a counts frame (segments of the plan, or one ``all`` row)."""
    stages = [s.name for s in contract.funnel.stages]
    frame = pd.DataFrame.from_dict(plan["segments"], orient="index")
    missing = [s for s in [*stages, "revenue"] if s not in frame.columns]
    if missing:
        raise UsageError(
            f"the saved plan for {plan.get('period')} lacks {', '.join(missing)}; "
            "the contract's stages changed since: make the plan again"
        )
    frame = frame.astype("float64").fillna(0.0)
    if by is None:
        frame = frame.sum().to_frame(ALL).T
    elif plan.get("by") != by:
        raise UsageError(
            f"the saved plan for {plan.get('period')} is "
            + (f"by {plan.get('by')}" if plan.get("by") else "not segmented")
            + f", not by {by}; drop --by or make the plan with --by {by}"
        )
    return frame


def gap_report(
    store: Store,
    contract: Contract,
    period: Period,
    *,
    vs: Period | None = None,
    plan: dict[str, Any] | None = None,
    by: str | None = None,
    metric: str = "revenue",
    margin: bool = False,
    cohort: bool = False,
    language: str | None = None,
) -> GapResult:
    """Decompose ``period``'s ``metric`` (revenue; gross_margin, also with ``margin``;
    pipeline; or a stage's count) against ``plan`` (a saved plan, see :func:`load_plan`) or
    the period ``vs``.

    ``cohort``: count each stage after the cumulative median lag from the lead stage (the
    plan's lags; without a plan, those measured over the two quarters before ``period``), so
    every rate follows one cohort instead of mixing cohorts within the period.
    """
    if (vs is None) == (plan is None):
        raise UsageError("compare with either a saved plan or another period (--vs)")
    if margin:
        metric = "gross_margin"
    margin = metric == "gross_margin"
    metric_shape(contract, metric)  # UsageError for an unknown metric, before any query
    stages = [s.name for s in contract.funnel.stages]
    shifts: dict[str, float] = {}
    incomplete = 0
    if cohort:
        if plan is not None and plan.get("lags_days"):
            lags = {str(k): float(v or 0.0) for k, v in plan["lags_days"].items()}
        else:
            win = default_window(store, contract, period)
            lags = baseline(store, contract, win).lags
        shifts = cumulative_shifts(stages, lags)
        # windows that run past the data count cohorts that are not complete yet
        end = data_end(store, contract)
        reach = period.end + timedelta(days=max(shifts.values(), default=0.0))
        incomplete = max(0, (reach - end).days)
    if plan is not None:
        actual = period_counts(store, contract, period, by, margin=margin, shifts=shifts)
        base = plan_counts(plan, contract, by)
        if margin and "gross_margin" not in base.columns:
            raise UsageError("the saved plan has no gross margin; make the plan again")
        base_label = "plan"
    else:
        assert vs is not None
        actual, base = counts_for(
            store, contract, [(period, shifts), (vs, shifts)], by, margin=margin
        )
        base_label = vs.label
    result = decompose(
        contract,
        base,
        actual,
        period=period.label,
        base_label=base_label,
        by=by,
        metric=metric,
        cohort=cohort,
        language=language,
    )
    result.meta["shifts"] = shifts
    result.meta["incomplete_days"] = incomplete if cohort else 0
    result.meta["stages"] = stages
    return result


__all__ = [
    "PLANS_DIR",
    "gap_report",
    "load_plan",
    "make_plan",
    "plan_counts",
    "plan_for",
    "plan_path",
    "save_plan",
]
