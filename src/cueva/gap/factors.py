"""The funnel as a product of factors, with the team that owns each factor.

For the contract's stages ``s_0 (lead), s_1 (mql), ..., s_n (won)``::

    revenue = s_0 entries x (s_1 / s_0) x ... x (s_n / s_{n-1}) x (revenue / s_n) [x margin rate]

The identity telescopes, so the product equals the revenue whenever no stage count is zero.
Input is a small *counts frame*: one row per segment (index), one column per stage name with
the entries into that stage, and ``revenue`` (plus ``gross_margin`` for margin and ``pipeline``
for plans). With segments, lead volume splits into the total leads and each segment's share
of them (the structure or *mix* factor), the standard LMDI treatment of a sum over segments.

Undefined rates (a stage with no entries, so the next rate is 0/0) take the other period's
value, so they count as unchanged; when the aggregate is zero through an earlier factor this
changes nothing. A stage with entries after a stage with none (possible when rates are
measured within one period: this quarter's MQLs may come from last quarter's leads) has no
finite rate; that is an error that points to the cohort variant.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cueva.contract import Contract
from cueva.errors import UsageError

Language = str

#: Short names of well-known stages, for labels.
_SHORT = {"mql": "MQL", "sql": "SQL", "sal": "SAL", "opportunity": "opportunity", "won": "won"}

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "leads": "{stage} volume",
        "mix": "{by} mix",
        "rate": "{stage} rate",
        "win_rate": "win rate",
        "deal_size": "deal size",
        "opportunity_size": "opportunity size",
        "margin_rate": "gross margin rate",
        "timing": "cohort timing",
    },
    "es": {
        "leads": "volumen de {stage}s",
        "mix": "mezcla por {by}",
        "rate": "tasa de {stage}",
        "win_rate": "tasa de cierre",
        "deal_size": "tamaño medio de venta",
        "opportunity_size": "tamaño medio de oportunidad",
        "margin_rate": "margen bruto",
        "timing": "desfase de cohortes",
    },
}


@dataclass(frozen=True)
class Factor:
    """One multiplicative factor of revenue."""

    key: str  # leads, mix, <stage>_rate, win_rate, deal_size, margin_rate
    label: str
    owner: str
    kind: str  # volume, mix, rate, money, share
    stage: str | None = None


_SHORT_ES = {"opportunity": "oportunidad", "won": "ganada", "lead": "lead"}


def _short(stage: str, lang: str = "en") -> str:
    if lang == "es" and stage in _SHORT_ES:
        return _SHORT_ES[stage]
    return _SHORT.get(stage, stage.replace("_", " "))


#: Glossary names that also name a factor.
_GLOSSARY_ALIASES = {"margin_rate": ("margin_rate", "gross_margin_rate")}


def _glossary_owner(contract: Contract, key: str) -> str | None:
    names = _GLOSSARY_ALIASES.get(key, (key,))
    for term in getattr(contract, "glossary", ()) or ():
        if term.name in names and term.owner:
            return str(term.owner)
    return None


#: Metrics a gap can decompose besides a stage count.
MONEY_METRICS = ("revenue", "gross_margin", "pipeline")


def metric_shape(contract: Contract, metric: str) -> tuple[list[str], str | None, bool]:
    """For a metric: the stages it runs through, its money column (None for a stage count)
    and whether it multiplies by the gross-margin rate."""
    names = stage_names(contract)
    if metric in ("revenue", "gross_margin"):
        return names, "revenue", metric == "gross_margin"
    if metric == "pipeline":
        opp = next(
            (s.name for s in contract.funnel.stages if s.entry.entity_type == "opportunity"), None
        )
        if opp is None:
            raise UsageError("the pipeline gap needs an opportunity stage in the contract")
        return names[: names.index(opp) + 1], "pipeline", False
    if metric in names:
        return names[: names.index(metric) + 1], None, False
    raise UsageError(
        f"unknown gap metric {metric!r}; use revenue, gross_margin, pipeline or a stage: "
        + ", ".join(names)
    )


def funnel_factors(
    contract: Contract,
    *,
    metric: str = "revenue",
    margin: bool = False,
    by: str | None = None,
    language: str | None = None,
) -> list[Factor]:
    """The factors of revenue for the contract's funnel, in funnel order.

    Owners: lead volume (and the segment mix) belong to the first stage's owner; the rate into
    a stage belongs to the team that owns both stages, or ``shared`` when the stage hands work
    from one team to another (MQL -> SQL in the starter contract); deal size and margin belong
    to the last stage's owner. A glossary term of the same name with an ``owner`` overrides.
    """
    lang = language or contract.language
    labels = _LABELS.get(lang, _LABELS["en"])
    if margin:
        metric = "gross_margin"
    used, value, with_margin = metric_shape(contract, metric)
    all_stages = contract.funnel.stages
    stages = [s for s in all_stages if s.name in used]
    first, last = stages[0], all_stages[-1]
    out: list[Factor] = [
        Factor(
            "leads",
            labels["leads"].format(stage=_short(first.name, lang)),
            first.owner,
            "volume",
            first.name,
        )
    ]
    if by is not None:
        out.append(Factor("mix", labels["mix"].format(by=by), first.owner, "mix", first.name))
    for prev, stage in itertools.pairwise(stages):
        is_last = stage.name == last.name
        key = "win_rate" if is_last else f"{stage.name}_rate"
        label = (
            labels["win_rate"] if is_last else labels["rate"].format(stage=_short(stage.name, lang))
        )
        owner = prev.owner if prev.owner == stage.owner else "shared"
        out.append(Factor(key, label, owner, "rate", stage.name))
    if value == "revenue":
        out.append(Factor("deal_size", labels["deal_size"], last.owner, "money", last.name))
    elif value == "pipeline":
        end = stages[-1]
        out.append(
            Factor("opportunity_size", labels["opportunity_size"], end.owner, "money", end.name)
        )
    if with_margin:
        out.append(Factor("margin_rate", labels["margin_rate"], last.owner, "share", last.name))
    return [
        Factor(f.key, f.label, _glossary_owner(contract, f.key) or f.owner, f.kind, f.stage)
        for f in out
    ]


def stage_names(contract: Contract) -> list[str]:
    return [s.name for s in contract.funnel.stages]


def _value_cols(value: str | None, margin: bool) -> list[str]:
    return ([value] if value else []) + (["gross_margin"] if margin else [])


def _check_counts(
    counts: pd.DataFrame, stages: list[str], value: str | None, margin: bool, name: str
) -> None:
    needed = [*stages, *_value_cols(value, margin)]
    missing = [c for c in needed if c not in counts.columns]
    if missing:
        raise UsageError(f"{name}: counts frame lacks column(s) {', '.join(missing)}")
    values = counts[needed].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise UsageError(f"{name}: stage counts and amounts must be finite and >= 0")


def _raw(
    counts: pd.DataFrame, stages: list[str], value: str | None, margin: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Numerators and denominators of each factor: (segments x K) each; volume over 1."""
    c = counts[stages].to_numpy(dtype=np.float64)
    num = [c[:, :1], c[:, 1:]]
    den = [np.ones_like(c[:, :1]), c[:, :-1]]
    if value is not None:
        amount = counts[value].to_numpy(dtype=np.float64)
        num.append(amount[:, None])
        den.append(c[:, -1:])
        if margin:
            num.append(counts["gross_margin"].to_numpy(dtype=np.float64)[:, None])
            den.append(amount[:, None])
    return np.hstack(num), np.hstack(den)


def paired_factors(
    base: pd.DataFrame,
    actual: pd.DataFrame,
    stages: list[str],
    *,
    value: str | None = "revenue",
    margin: bool = False,
    segmented: bool = False,
    names: tuple[str, str] = ("base", "actual"),
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Factor values for two counts frames, aligned on the union of their segments.

    ``stages`` are the stages the metric runs through, ``value`` its money column (revenue,
    pipeline; None for a stage count). Returns ``(segments, x0, x1)`` with ``x`` of shape
    (segments x K) in the order of :func:`funnel_factors` (with the mix column second when
    ``segmented``). The product of a row is that segment's value of the metric.

    A stage with entries after a stage with none (within one period) has no finite rate:
    without segments that is a UsageError pointing to the cohort variant; with segments the
    segment's row is NaN (see :func:`cueva.gap.decompose.decompose`, factor ``timing``).
    """
    _check_counts(base, stages, value, margin, names[0])
    _check_counts(actual, stages, value, margin, names[1])
    cols = [*stages, *_value_cols(value, margin)]
    segments = sorted({str(s) for s in base.index} | {str(s) for s in actual.index})
    b = base[cols].copy()
    a = actual[cols].copy()
    b.index = b.index.map(str)
    a.index = a.index.map(str)
    b = b.groupby(level=0).sum().reindex(segments, fill_value=0.0)
    a = a.groupby(level=0).sum().reindex(segments, fill_value=0.0)
    n0, d0 = _raw(b, stages, value, margin)
    n1, d1 = _raw(a, stages, value, margin)
    broken_rows = np.zeros(len(segments), dtype=bool)
    for num, den, name in ((n0, d0, names[0]), (n1, d1, names[1])):
        broken = (den == 0) & (num > 0)
        if segmented:
            # a segment whose within-period chain breaks is returned as a row of NaN: the
            # caller books its whole change as cohort timing instead of failing the whole split
            broken_rows |= np.any(broken, axis=1)
            continue
        if np.any(broken):
            seg_i, k = np.argwhere(broken)[0]
            what = cols[k]
            prev = cols[k - 1] if k >= 1 else "?"
            where = "" if segments[seg_i] == "all" else f" in segment {segments[seg_i]!r}"
            raise UsageError(
                f"{name}: {num[seg_i, k]:g} {what} but no {prev}{where}, so the within-period "
                f"rate is not defined; use the cohort variant (--cohort)"
            )
    undefined0 = d0 == 0
    undefined1 = d1 == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r0 = np.where(undefined0, np.nan, n0 / np.where(undefined0, 1.0, d0))
        r1 = np.where(undefined1, np.nan, n1 / np.where(undefined1, 1.0, d1))
    x0 = np.where(undefined0, np.where(undefined1, 1.0, r1), r0)
    x1 = np.where(undefined1, np.where(undefined0, 1.0, r0), r1)
    if segmented:
        total0 = x0[:, 0].sum()
        total1 = x1[:, 0].sum()
        share0 = x0[:, 0] / total0 if total0 > 0 else np.zeros(len(segments))
        share1 = x1[:, 0] / total1 if total1 > 0 else np.zeros(len(segments))
        x0 = np.column_stack([np.full(len(segments), total0), share0, x0[:, 1:]])
        x1 = np.column_stack([np.full(len(segments), total1), share1, x1[:, 1:]])
        x0[broken_rows] = np.nan
        x1[broken_rows] = np.nan
    return segments, x0, x1


__all__ = [
    "MONEY_METRICS",
    "Factor",
    "funnel_factors",
    "metric_shape",
    "paired_factors",
    "stage_names",
]
