"""Additive log-mean Divisia index, method I (LMDI-I; Ang 2004, Ang 2015).

For an aggregate that is a product of factors, ``V = x_1 * x_2 * ... * x_K``, the change
``V1 - V0`` splits exactly into one contribution per factor::

    C_k = L(V1, V0) * ln(x1_k / x0_k)        L(a, b) = (a - b) / (ln a - ln b),  L(a, a) = a

Because ``sum_k ln(x1_k / x0_k) = ln(V1 / V0)`` and ``L(V1, V0) * ln(V1 / V0) = V1 - V0``, the
contributions add up to the change with no residual.

Zero values follow the "analytical limit" strategy of Ang & Liu (2007): replace each zero by a
small ``delta`` and let ``delta -> 0``. The limits are exact and used directly:

* ``V0 > 0`` and ``V1 > 0``: the formula above.
* ``V0 = 0 < V1``: the ``k`` factors that are zero in period 0 share ``V1`` equally (``V1 / k``
  each); every other factor contributes 0.
* ``V1 = 0 < V0``: likewise, the factors that are zero in period 1 share ``-V0``.
* ``V0 = V1 = 0``: every contribution is 0.

Segment sums (``V = sum_s prod_k x_sk``) decompose segment by segment; the effect of factor
``k`` is the sum over segments, so the segment totals and the factor totals both add up to
the change. Everything here is vectorised numpy on small arrays (segments x factors).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cueva.errors import UsageError

FloatArray = npt.NDArray[np.float64]


def logmean(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """The logarithmic mean ``L(a, b) = (a - b) / (ln a - ln b)``, ``L(a, a) = a``, ``L(a, 0) = 0``.

    Computed as ``sqrt(a b) * sinh(s / 2) / (s / 2)`` with ``s = ln(a / b)``, which is exact
    in exact arithmetic and stable when ``a`` and ``b`` are close.
    """
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    if np.any(a_arr < 0) or np.any(b_arr < 0):
        raise UsageError("the logarithmic mean is defined for values >= 0 only")
    positive = (a_arr > 0) & (b_arr > 0)
    sa = np.where(positive, a_arr, 1.0)
    sb = np.where(positive, b_arr, 1.0)
    half = 0.5 * (np.log(sa) - np.log(sb))
    return np.where(positive, np.sqrt(sa) * np.sqrt(sb) * _sinhc(half), 0.0)


def _sinhc(y: FloatArray) -> FloatArray:
    """``sinh(y) / y`` with the limit 1 at 0."""
    safe = np.where(y == 0, 1.0, y)
    return np.where(y == 0, 1.0, np.sinh(safe) / safe)


def lmdi(x0: npt.ArrayLike, x1: npt.ArrayLike) -> FloatArray:
    """Contributions of each factor to ``prod(x1) - prod(x0)`` (LMDI-I, additive).

    ``x0`` and ``x1`` have the same shape ``(..., K)``: the last axis holds the K factors, any
    leading axes are independent rows (e.g. segments). Values must be finite and ``>= 0``.
    Returns an array of that shape whose last axis sums to ``prod(x1) - prod(x0)``.
    """
    a0 = np.asarray(x0, dtype=np.float64)
    a1 = np.asarray(x1, dtype=np.float64)
    if a0.shape != a1.shape or a0.ndim == 0:
        raise UsageError(f"factor arrays must have one shape (got {a0.shape} and {a1.shape})")
    for arr in (a0, a1):
        if not np.all(np.isfinite(arr)):
            raise UsageError("factor values must be finite numbers")
        if np.any(arr < 0):
            raise UsageError("LMDI needs factor values >= 0 (a negative factor has no logarithm)")

    zero0 = a0 == 0
    zero1 = a1 == 0
    v0 = np.prod(a0, axis=-1)
    v1 = np.prod(a1, axis=-1)
    pos0 = ~np.any(zero0, axis=-1)
    pos1 = ~np.any(zero1, axis=-1)

    # Regular case: both aggregates positive. Logs are taken of safe (1.0) stand-ins elsewhere.
    both = (pos0 & pos1)[..., None]
    safe0 = np.where(both, a0, 1.0)
    safe1 = np.where(both, a1, 1.0)
    # Close values: log1p of the relative change (the difference is exact, so a 1e-15 change
    # keeps its size and sign); far apart: the difference of the logs.
    rel = (safe1 - safe0) / safe0
    close = np.abs(rel) < 0.5
    ln_ratio = np.where(
        both,
        np.where(close, np.log1p(np.where(close, rel, 0.0)), np.log(safe1) - np.log(safe0)),
        0.0,
    )
    # ln(V1/V0) as the sum of the factor log ratios keeps the identity exact in floating point
    # up to rounding, and the sinh form of L keeps it stable when V1 is close to V0.
    s = np.sum(ln_ratio, axis=-1)
    log_v0 = np.sum(np.log(np.where(both, a0, 1.0)), axis=-1)
    lm = np.exp(log_v0 + 0.5 * s) * _sinhc(0.5 * s)
    out = lm[..., None] * ln_ratio

    # Limits (Ang & Liu 2007): zero-valued factors share the whole change equally.
    k0 = np.maximum(np.sum(zero0, axis=-1), 1)
    k1 = np.maximum(np.sum(zero1, axis=-1), 1)
    from_zero = (~pos0 & pos1)[..., None]
    to_zero = (pos0 & ~pos1)[..., None]
    out = np.where(from_zero, np.where(zero0, (v1 / k0)[..., None], 0.0), out)
    out = np.where(to_zero, np.where(zero1, (-v0 / k1)[..., None], 0.0), out)
    return np.asarray(out, dtype=np.float64)


def lmdi_segments(
    x0: npt.ArrayLike, x1: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Decompose ``sum_s prod_k x_sk`` (segments x factors).

    Returns ``(by_segment_and_factor, by_factor, by_segment)``: the full table, its column
    sums (the effect of each factor) and its row sums (each segment's change).
    """
    table = lmdi(x0, x1)
    if table.ndim != 2:
        raise UsageError("segment decomposition needs a 2-D array (segments x factors)")
    return table, table.sum(axis=0), table.sum(axis=1)


__all__ = ["lmdi", "lmdi_segments", "logmean"]
