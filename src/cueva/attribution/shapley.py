"""Exact Shapley-value attribution over channel coalitions.

Journeys are aggregated by their *set* of channels ``T`` (a bit mask; in the store the
engine has already grouped journeys into paths): ``c(T)`` = conversions of journeys whose
channels are exactly ``T``, ``n(T)`` = all journeys (conversions + nulls) with exactly ``T``.

The value of a coalition ``S`` is (``value=``):

* ``"conversions"`` (default; Zhao et al. 2018): ``v(S) = sum of c(T) over T subset of S``,
  the conversions of journeys that used only channels of ``S``;
* ``"conversion_rate"``: ``v(S) = sum c(T) / sum n(T)`` over ``T`` subset of ``S``, the
  conversion rate of journeys that used only channels of ``S`` (needs non-converting journeys),
  scaled so credits sum to the total.

Both subset sums are one zeta transform over all ``2^n`` coalitions; the Harsanyi dividends
``d(T)`` are its inverse (the Moebius transform) and the Shapley value is
``phi_i = sum over T containing i of d(T) / |T|``. All three steps are ``n`` vectorised passes
over a ``2^n`` array: exact, with no "at most 4 channels" limit (20 channels: 1M coalitions).
For the additive ``"conversions"`` value the dividends are ``c(T)`` itself, so the result
equals splitting every journey's conversions evenly over its distinct channels; the test
suite checks that identity.

**Ordered Shapley** (:func:`ordered_shapley_attribution`, Zhao et al. 2018, section 4): the
same game (``"conversions"``), with each channel's credit split by the *position* at which it
joined the journey: ``phi_i^p = sum over T containing i of r(T, i, p) / |T|``, where
``r(T, i, p)`` is the measure of the journeys whose channel set is exactly ``T`` and in which
``i`` is the ``p``-th distinct channel to appear (its first touch; later repeats do not move
it). Summed over positions it is the Shapley value above, so it is exact and efficient.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from cueva.attribution.paths import PathSet
from cueva.errors import UsageError

ShapleyValue = Literal["conversions", "conversion_rate"]

#: 2^24 coalitions = 16.7M float64 = 134 MB per array; beyond that, group channels first.
MAX_CHANNELS = 24


def _check_n(n: int) -> None:
    if n > MAX_CHANNELS:
        raise UsageError(
            f"exact Shapley over {n} channels needs 2^{n} coalitions; at most {MAX_CHANNELS} "
            "are supported: group small channels (e.g. into 'other') first"
        )


def zeta(values: np.ndarray, n: int) -> np.ndarray:
    """Subset sums: ``out[S] = sum of values[T] for T subset of S`` (a copy)."""
    out = np.array(values, dtype=np.float64, copy=True)
    for i in range(n):
        v = out.reshape(-1, 2, 1 << i)
        v[:, 1, :] += v[:, 0, :]
    return out


def moebius(values: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`zeta`: Harsanyi dividends of a game given on all ``2^n`` coalitions."""
    out = np.array(values, dtype=np.float64, copy=True)
    for i in range(n):
        v = out.reshape(-1, 2, 1 << i)
        v[:, 1, :] -= v[:, 0, :]
    return out


def popcount(n: int) -> np.ndarray:
    """Number of members of every coalition ``0 .. 2^n - 1``."""
    pc = np.zeros(1 << n, dtype=np.int64)
    for i in range(n):
        pc[1 << i : 1 << (i + 1)] = pc[: 1 << i] + 1
    return pc


def shapley_values(game: np.ndarray, n: int) -> np.ndarray:
    """Exact Shapley values of ``n`` players for a game given as ``v`` on all ``2^n``
    coalitions (bit ``i`` of the index = player ``i``; ``v[0]`` should be 0)."""
    if game.shape != (1 << n,):
        raise ValueError(f"a game of {n} players needs {1 << n} values, got {game.shape}")
    d = moebius(game, n)
    pc = popcount(n)
    per = np.divide(d, pc, out=np.zeros_like(d), where=pc > 0)
    return np.array([per.reshape(-1, 2, 1 << i)[:, 1, :].sum() for i in range(n)])


def shapley_attribution(
    ps: PathSet, value: ShapleyValue = "conversions"
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Credit per channel for every measure of ``ps``, and the Shapley values of the game
    (in conversions for ``"conversions"``, in conversion rate for ``"conversion_rate"``)."""
    n = ps.n_channels
    _check_n(n)
    if n == 0:
        raise UsageError("no channels: nothing to attribute")
    masks = ps.channel_sets().astype(np.int64)
    size = 1 << n
    has_touch = ps.lengths > 0
    credit: dict[str, np.ndarray] = {}
    if value == "conversions":
        phi = np.zeros(n)
        for name, m in ps.measures.items():
            c = np.bincount(masks[has_touch], weights=m[has_touch], minlength=size)
            c[0] = 0.0
            credit[name] = shapley_values(zeta(c, n), n)
            if name == "conversions":
                phi = credit[name]
        return credit, phi
    if value == "conversion_rate":
        conv = np.bincount(masks[has_touch], weights=ps.conversions[has_touch], minlength=size)
        seen = np.bincount(
            masks[has_touch], weights=(ps.conversions + ps.nulls)[has_touch], minlength=size
        )
        conv[0] = seen[0] = 0.0
        num, den = zeta(conv, n), zeta(seen, n)
        rate = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        phi = shapley_values(rate, n)
        total_rate = phi.sum()  # = v(all channels), by efficiency
        for name, m in ps.measures.items():
            total = float(m[has_touch].sum())
            credit[name] = phi / total_rate * total if total_rate > 0 else np.zeros(n)
        return credit, phi
    raise UsageError(f"unknown Shapley value {value!r}: use conversions or conversion_rate")


def ordered_shapley_attribution(
    ps: PathSet,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Ordered Shapley credit (see the module docstring): per channel for every measure of
    ``ps`` (equal to the ``"conversions"`` Shapley value) and per channel and position, as
    ``(n_channels, max_positions)`` arrays (column ``p - 1`` = position ``p``)."""
    n = ps.n_channels
    if n == 0:
        raise UsageError("no channels: nothing to attribute")
    # the first touch of every channel in every journey, in journey then touch order
    key = ps.path_of_touch * n + ps.touches
    if ps.n_paths * n < 2**31:  # a narrower key sorts faster
        key = key.astype(np.int32)
    _, first = np.unique(key, return_index=True)
    first.sort()
    journey = ps.path_of_touch[first]
    channel = ps.touches[first].astype(np.int64)
    k = np.bincount(journey, minlength=ps.n_paths)  # distinct channels per journey
    start = np.concatenate([[0], np.cumsum(k)[:-1]])
    position = np.arange(len(first)) - start[journey]  # 0-based order of joining
    width = int(k.max(initial=1))
    slot = channel * width + position
    by_position: dict[str, np.ndarray] = {}
    credit: dict[str, np.ndarray] = {}
    share = np.divide(1.0, k, out=np.zeros(len(k)), where=k > 0)
    for name, m in ps.measures.items():
        w = (m * share)[journey]
        grid = np.bincount(slot, weights=w, minlength=n * width).reshape(n, width)
        by_position[name] = grid
        credit[name] = grid.sum(axis=1)
    return credit, by_position


__all__ = [
    "MAX_CHANNELS",
    "ShapleyValue",
    "moebius",
    "ordered_shapley_attribution",
    "popcount",
    "shapley_attribution",
    "shapley_values",
    "zeta",
]
