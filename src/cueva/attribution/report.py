"""Run attribution models and shape their results into documented frames.

:func:`attribute` takes journeys (a :class:`~cueva.attribution.paths.PathSet`) and returns an
:class:`AttributionResult`; :func:`attribute_paths` reads a path file first and
:func:`attribute_store` builds the journeys from a workspace's store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from cueva.attribution.markov import MarkovResult, markov_attribution
from cueva.attribution.paths import PathSet, read_path_file
from cueva.attribution.rules import RULE_MODELS, rule_weights
from cueva.attribution.settings import MODEL_NAMES, AttributionSettings
from cueva.attribution.shapley import ordered_shapley_attribution, shapley_attribution
from cueva.errors import UsageError

if TYPE_CHECKING:
    from cueva.attribution.journeys import Journeys
    from cueva.contract import Contract
    from cueva.store import Store

#: Models that need touch timestamps or milestone marks (not available from a path file).
STORE_ONLY = ("time_decay", "w_shaped", "full_path")


@dataclass
class AttributionResult:
    """Frames (documented in docs/attribution.md) and the settings that made them."""

    credits: pd.DataFrame
    comparison: pd.DataFrame
    summary: pd.DataFrame
    campaigns: pd.DataFrame | None = None
    removal_effects: pd.DataFrame | None = None
    transition_matrix: pd.DataFrame | None = None
    markov: MarkovResult | None = None
    positions: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def resolve_models(models: Sequence[str] | str | None, store_mode: bool) -> list[str]:
    if models is None:
        return ["markov"]
    names = [models] if isinstance(models, str) else list(models)
    out: list[str] = []
    for name in names:
        for part in name.split(","):
            part = part.strip()
            if part == "all":
                out.extend(m for m in MODEL_NAMES if store_mode or m not in STORE_ONLY)
            elif part in MODEL_NAMES:
                if not store_mode and part in STORE_ONLY:
                    raise UsageError(
                        f"{part} needs touch timestamps and milestones: use a workspace "
                        "(a path file has neither)"
                    )
                out.append(part)
            elif part:
                raise UsageError(
                    f"unknown model {part!r}; choose from: {', '.join(MODEL_NAMES)} or all"
                )
    return list(dict.fromkeys(out))


def _with_sourced(ps: PathSet) -> PathSet:
    """Add ``sourced_<measure>`` measures (the measure of marketing-sourced journeys only)."""
    if ps.journey_sourced is None:
        return ps
    src = ps.journey_sourced.astype(float)
    extra = {f"sourced_{k}": v * src for k, v in ps.measures.items()}
    return PathSet(
        channels=ps.channels,
        offsets=ps.offsets,
        touches=ps.touches,
        measures={**ps.measures, **extra},
        nulls=ps.nulls,
        touch_age_days=ps.touch_age_days,
        marks=ps.marks,
        touch_campaign=ps.touch_campaign,
        campaigns=ps.campaigns,
        campaign_channel=ps.campaign_channel,
        journey_sourced=ps.journey_sourced,
    )


def _money_columns(frame: pd.DataFrame, spend: pd.Series | None, key: str) -> pd.DataFrame:
    if spend is None:
        return frame
    cost = frame[key].map(spend).fillna(0.0).astype(float)
    frame["spend"] = cost
    gain = frame["revenue"] if "revenue" in frame else frame.get("value")
    with np.errstate(divide="ignore", invalid="ignore"):
        if gain is not None:
            frame["roi"] = np.where(cost > 0, (gain - cost) / cost, np.nan)
        frame["cost_per_conversion"] = np.where(
            frame["conversions"] > 0, cost / frame["conversions"], np.nan
        )
    return frame


def attribute(
    ps: PathSet,
    models: Sequence[str] | str | None = None,
    settings: AttributionSettings | None = None,
    *,
    spend_by_channel: pd.Series | None = None,
    spend_by_campaign: pd.Series | None = None,
    influenced: np.ndarray | None = None,
    store_mode: bool = False,
    meta: dict[str, Any] | None = None,
) -> AttributionResult:
    """Credit channels with every model in ``models`` (names, "all", or comma lists)."""
    s = settings or AttributionSettings.model_validate({})
    names = resolve_models(models, store_mode)
    if ps.n_channels == 0 or len(ps.touches) == 0:
        raise UsageError("no touches to attribute (no journeys with touchpoints)")
    if ps.conversions.sum() <= 0:
        raise UsageError("no conversions to attribute")
    full = _with_sourced(ps)
    measures = list(full.measures)
    mvals = np.column_stack([full.measures[k] for k in measures]).astype(float)
    rows: list[pd.DataFrame] = []
    camp_rows: list[pd.DataFrame] = []
    pos_rows: list[pd.DataFrame] = []
    markov: MarkovResult | None = None
    has_campaigns = full.touch_campaign is not None and bool(full.campaigns)
    split: _CampaignSplit | None = None
    for model in names:
        extra: dict[str, np.ndarray] = {}
        cc: dict[str, np.ndarray] | None = None
        if model in RULE_MODELS:
            w = rule_weights(full, model, s)
            credit = _credit_by(full.touches, w, full.offsets, full.n_channels, mvals, measures)
            if has_campaigns:
                assert full.touch_campaign is not None
                has = full.touch_campaign >= 0
                cc = _credit_by(
                    np.where(has, full.touch_campaign, 0),
                    np.where(has, w, 0.0),
                    full.offsets,
                    len(full.campaigns),
                    mvals,
                    measures,
                )
        else:
            if model == "markov":
                markov = markov_attribution(full, s.markov_order, s.markov_collapse_repeats)
                credit = markov.credit
                extra["removal_effect"] = markov.removal_effects
            elif model == "shapley":
                credit, _ = shapley_attribution(full, s.shapley_value)
            elif model == "shapley_ordered":
                credit, grid = ordered_shapley_attribution(full)
                pos_rows.append(_positions_frame(model, full.channels, grid, measures))
            else:  # pragma: no cover - resolve_models rejects the rest
                raise UsageError(f"unknown model {model!r}")
            if has_campaigns:  # channel credit split among the channel's campaigns
                split = split or _CampaignSplit.of(full, mvals, measures)
                cc = split.apply(credit, measures)
        if cc is not None:
            camp_rows.append(
                pd.DataFrame(
                    {
                        "model": model,
                        "campaign_id": full.campaigns,
                        "channel": full.campaign_channel or [""] * len(full.campaigns),
                        **cc,
                    }
                )
            )
        frame = pd.DataFrame({"model": model, "channel": full.channels})
        for k in measures:
            frame[k] = credit[k]
        for k, v in extra.items():
            frame[k] = v
        rows.append(frame)
    credits = pd.concat(rows, ignore_index=True)
    credits = _money_columns(credits, spend_by_channel, "channel")
    base_cols = ["model", "channel", *[m for m in measures if not m.startswith("sourced_")]]
    rest = [c for c in credits.columns if c not in base_cols]
    credits = credits[base_cols + rest]
    credits = credits.sort_values(["model", "conversions"], ascending=[True, False], kind="stable")
    order = {m: i for i, m in enumerate(names)}
    credits = credits.sort_values("model", key=lambda c: c.map(order), kind="stable").reset_index(
        drop=True
    )

    comparison = credits.pivot(index="channel", columns="model", values="conversions")[names]
    comparison = comparison.sort_values(names[0], ascending=False).reset_index()
    comparison.columns.name = None

    summary = _summary(full, influenced)
    campaigns = None
    if camp_rows:
        campaigns = pd.concat(camp_rows, ignore_index=True)
        campaigns = _money_columns(campaigns, spend_by_campaign, "campaign_id")
        campaigns = campaigns.sort_values(
            ["model", "conversions"], ascending=[True, False], kind="stable"
        ).reset_index(drop=True)
    info = {
        "models": names,
        "markov_order": s.markov_order,
        "shapley_value": s.shapley_value,
        "channels": ps.n_channels,
        "journeys": int(ps.n_paths),
        "conversions": float(ps.conversions.sum()),
        **(meta or {}),
    }
    return AttributionResult(
        credits=credits,
        comparison=comparison,
        summary=summary,
        campaigns=campaigns,
        removal_effects=markov.removal_frame() if markov is not None else None,
        transition_matrix=markov.transition_matrix() if markov is not None else None,
        markov=markov,
        positions=pd.concat(pos_rows, ignore_index=True) if pos_rows else None,
        meta=info,
    )


def _positions_frame(
    model: str, channels: list[str], grid: dict[str, np.ndarray], measures: list[str]
) -> pd.DataFrame:
    """Ordered Shapley credit per channel and position (1 = first channel of the journey),
    the (channel, position) cells with any credit, by channel then position."""
    n, width = grid["conversions"].shape
    frame = pd.DataFrame(
        {
            "model": model,
            "channel": np.repeat(np.asarray(channels, dtype=object), width),
            "position": np.tile(np.arange(1, width + 1), n),
        }
    )
    for k in measures:
        frame[k] = grid[k].ravel()
    used = np.column_stack([grid[k].ravel() for k in measures]).any(axis=1)
    return frame.iloc[np.flatnonzero(used)].reset_index(drop=True)


@dataclass
class _CampaignSplit:
    """How Markov and Shapley credit, which is per channel, is split among campaigns: each
    channel's credit for a measure goes to its campaigns in proportion to their *linear*
    credit for that measure within the channel (the journey's measure spread evenly over its
    touches, summed over the channel's touches of each campaign); touches without a campaign
    keep their share (it reaches no campaign). A channel with no linear credit for that
    measure is split by its linear conversions, else by its touch counts."""

    share: np.ndarray  # (channels, campaigns + 1, measures); last campaign slot: none
    n_campaigns: int

    @classmethod
    def of(cls, ps: PathSet, mvals: np.ndarray, measures: list[str]) -> _CampaignSplit:
        assert ps.touch_campaign is not None
        n_c, n_k = ps.n_channels, len(ps.campaigns)
        camp = np.where(ps.touch_campaign >= 0, ps.touch_campaign, n_k).astype(np.int64)
        pair = ps.touches.astype(np.int64) * (n_k + 1) + camp
        lengths = ps.lengths
        linear = np.repeat(
            np.divide(1.0, lengths, where=lengths > 0, out=np.zeros(len(lengths))), lengths
        )
        lin = _credit_by(pair, linear, ps.offsets, n_c * (n_k + 1), mvals, measures)
        grid = np.stack([lin[k] for k in measures], axis=-1).reshape(n_c, n_k + 1, -1)
        counts = np.bincount(pair, minlength=n_c * (n_k + 1)).reshape(n_c, n_k + 1)
        conv = grid[:, :, measures.index("conversions")]
        fallback = np.where(
            conv.sum(axis=1, keepdims=True) > 0, conv, counts.astype(float)
        )  # (channels, campaigns + 1)
        total = grid.sum(axis=1, keepdims=True)
        use = np.where(total > 0, grid, fallback[:, :, None])
        denom = use.sum(axis=1, keepdims=True)
        share = np.divide(use, denom, out=np.zeros_like(use), where=denom > 0)
        return cls(share, n_k)

    def apply(self, credit: dict[str, np.ndarray], measures: list[str]) -> dict[str, np.ndarray]:
        """Campaign credit for every measure from per-channel ``credit``."""
        return {
            k: (credit[k][:, None] * self.share[:, : self.n_campaigns, j]).sum(axis=0)
            for j, k in enumerate(measures)
        }


def _credit_by(
    codes: np.ndarray,
    weights: np.ndarray,
    offsets: np.ndarray,
    n_codes: int,
    mvals: np.ndarray,
    measures: list[str],
) -> dict[str, np.ndarray]:
    """Credit per code (channel or campaign) for every measure at once: the touches are
    already grouped by journey, so ``(weights, codes, offsets)`` is a journey-by-code CSR
    matrix W (repeated codes in a journey add up) and the credit is ``W.T @ measures``."""
    n = len(offsets) - 1
    w = sparse.csr_matrix(
        (np.asarray(weights, dtype=float), np.asarray(codes, dtype=np.int32), offsets),
        shape=(n, n_codes),
    )
    out = np.asarray(w.T @ mvals)
    return {k: out[:, i] for i, k in enumerate(measures)}


def _summary(ps: PathSet, influenced: np.ndarray | None) -> pd.DataFrame:
    has_touch = ps.lengths > 0
    out = []
    for k, v in ps.measures.items():
        if k.startswith("sourced_"):
            continue
        row: dict[str, Any] = {"measure": k, "total": float(v[has_touch].sum())}
        if ps.journey_sourced is not None:
            row["marketing_sourced"] = float(v[has_touch & ps.journey_sourced].sum())
        if influenced is not None:
            row["marketing_influenced"] = float(v[has_touch & influenced].sum())
        out.append(row)
    return pd.DataFrame(out)


def attribute_paths(
    path: Path | str,
    models: Sequence[str] | str | None = None,
    settings: AttributionSettings | None = None,
    **read_options: Any,
) -> AttributionResult:
    """Attribution of a ChannelAttribution-style path file (see :func:`read_path_file`)."""
    names = resolve_models(models, store_mode=False)  # bad model names fail before reading
    ps = read_path_file(path, **read_options)
    return attribute(ps, names, settings, meta={"source": str(path)})


def attribute_store(
    store: Store,
    contract: Contract,
    models: Sequence[str] | str | None = None,
    settings: AttributionSettings | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> AttributionResult:
    """Attribution of the store's journeys to the contract's milestone (see
    :mod:`cueva.attribution.journeys`); ``settings`` default to the contract's."""
    from cueva.attribution.journeys import journeys_from_store

    s = settings or contract.attribution
    names = resolve_models(models if models is not None else s.model, store_mode=True)
    need_marks = any(m in ("w_shaped", "full_path") for m in names)
    j: Journeys = journeys_from_store(
        store,
        contract,
        s,
        start=start,
        end=end,
        marks=need_marks,
        ages="time_decay" in names,
    )
    meta = {
        "milestone": s.milestone,
        "level": s.level,
        "lookback_days": s.lookback_days,
        "inactivity_days": s.inactivity_days,
        "sourced_rule": s.sourced_rule,
        "marketing_channels": j.marketing_channels,
        "milestones": j.milestones,
        "milestones_without_touches": j.milestones - int(j.paths.conversions.sum()),
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
    }
    return attribute(
        j.paths,
        names,
        s,
        spend_by_channel=j.spend_by_channel,
        spend_by_campaign=j.spend_by_campaign,
        influenced=j.influenced,
        store_mode=True,
        meta=meta,
    )


__all__ = [
    "STORE_ONLY",
    "AttributionResult",
    "attribute",
    "attribute_paths",
    "attribute_store",
    "resolve_models",
]
