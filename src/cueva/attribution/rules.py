"""Rule-based models, vectorised over the touches of aggregated paths.

Each model gives every touch a weight; a journey's weights sum to 1 (a journey with no
touches credits nothing). A channel's credit for a measure (conversions, value, pipeline,
...) is the sum over touches of weight x the journey's measure, so fractional conversions
stay fractional and totals are conserved exactly. Repeated channels are *not* collapsed here:
"a > a > b" under linear gives a 2/3 and b 1/3 (ChannelAttribution's heuristics do the same).
"""

from __future__ import annotations

import numpy as np

from cueva.attribution.paths import MARK_CLOSE, MARK_LEAD, MARK_OPPORTUNITY, PathSet
from cueva.attribution.settings import MODEL_NAMES, AttributionSettings
from cueva.errors import UsageError

#: The rule-based models: every model but the data-driven Markov and Shapley.
RULE_MODELS: tuple[str, ...] = tuple(
    m for m in MODEL_NAMES if m not in ("markov", "shapley", "shapley_ordered")
)


def _per_path_sum(ps: PathSet, w: np.ndarray) -> np.ndarray:
    return np.bincount(ps.path_of_touch, weights=w, minlength=ps.n_paths)


def _normalise(ps: PathSet, w: np.ndarray) -> np.ndarray:
    denom = _per_path_sum(ps, w)[ps.path_of_touch]
    return np.divide(w, denom, out=np.zeros_like(w, dtype=float), where=denom > 0)


def _spread(ps: PathSet, anchored: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Weights for milestone models: ``anchored[k]`` flags the touches that hold anchor ``k``
    (share ``shares[k]``); the last share is spread evenly over the touches holding no anchor.
    Anchors a journey lacks and a missing "rest" hand their share to the others (the weights
    are normalised per journey)."""
    w = np.zeros(len(ps.touches))
    for k in range(anchored.shape[0]):
        w += shares[k] * anchored[k]
    rest = ~anchored.any(axis=0)
    n_rest = _per_path_sum(ps, rest.astype(float))
    per = np.repeat(
        np.divide(shares[-1], n_rest, out=np.zeros_like(n_rest), where=n_rest > 0), ps.lengths
    )
    w += per * rest
    return _normalise(ps, w)


def rule_weights(ps: PathSet, model: str, settings: AttributionSettings) -> np.ndarray:
    """The weight of every touch under rule-based ``model`` (see :data:`RULE_MODELS`)."""
    n_touch = len(ps.touches)
    pos = ps.position
    length = ps.touch_length
    first = pos == 0
    last = pos == length - 1
    if model == "first_touch":
        return first.astype(float)
    if model == "last_touch":
        return last.astype(float)
    if model == "linear":
        return 1.0 / length
    if model == "last_non_direct":
        direct_set = set(settings.direct_channels)
        direct_codes = [i for i, c in enumerate(ps.channels) if c in direct_set]
        direct = np.isin(ps.touches, np.asarray(direct_codes, dtype=ps.touches.dtype))
        idx = np.where(direct, -1, np.arange(n_touch))
        w = np.zeros(n_touch)
        nonempty = ps.lengths > 0
        if n_touch:
            last_nd = np.maximum.reduceat(idx, ps.offsets[:-1][nonempty])
            last_idx = ps.offsets[1:][nonempty] - 1
            chosen = np.where(last_nd >= 0, last_nd, last_idx)
            w[chosen] = 1.0
        return w
    if model == "position_based":
        a, b, c = settings.position_weights
        w = np.where(first, a, 0.0) + np.where(last, c, 0.0)
        mid = ~first & ~last
        n_mid = np.maximum(length - 2, 1)
        w = w + np.where(mid, b / n_mid, 0.0)
        # one touch: all of it; two touches: first and last only (renormalised)
        return _normalise(ps, w)
    if model == "custom":
        prof = np.asarray(settings.custom_weights, dtype=float)
        m = len(prof)
        rel = np.divide(pos, length - 1, out=np.zeros(n_touch), where=length > 1)
        idx = np.floor(rel * (m - 1) + 0.5).astype(np.int64)
        return _normalise(ps, prof[idx])
    if model == "time_decay":
        if ps.touch_age_days is None:
            raise UsageError(
                "time_decay needs touch timestamps: use the store (a path file has none)"
            )
        age = np.maximum(ps.touch_age_days, 0.0)
        return _normalise(ps, np.exp2(-age / settings.half_life_days))
    if model in ("w_shaped", "full_path"):
        if ps.marks is None:
            raise UsageError(
                f"{model} needs the lead and opportunity creation touches: use the store "
                "(a path file has no milestones)"
            )
        flags = [first, (ps.marks & MARK_LEAD) > 0, (ps.marks & MARK_OPPORTUNITY) > 0]
        shares: tuple[float, ...] = settings.w_shaped_weights
        if model == "full_path":
            flags.append((ps.marks & MARK_CLOSE) > 0)
            shares = settings.full_path_weights
        return _spread(ps, np.vstack(flags), np.asarray(shares, dtype=float))
    raise UsageError(f"unknown rule-based model {model!r}; choose from {', '.join(RULE_MODELS)}")


def credit_from_weights(ps: PathSet, w: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel credit for every measure: sum over touches of weight x journey measure."""
    path = ps.path_of_touch
    out: dict[str, np.ndarray] = {}
    for name, values in ps.measures.items():
        out[name] = np.bincount(ps.touches, weights=w * values[path], minlength=ps.n_channels)
    return out


def heuristic_credit(
    ps: PathSet, model: str, settings: AttributionSettings | None = None
) -> dict[str, np.ndarray]:
    """Credit per channel (arrays in ``ps.channels`` order) for each measure of ``ps``."""
    return credit_from_weights(
        ps, rule_weights(ps, model, settings or AttributionSettings.model_validate({}))
    )


__all__ = ["RULE_MODELS", "credit_from_weights", "heuristic_credit", "rule_weights"]
