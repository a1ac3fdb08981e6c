"""Markov-chain attribution of order k, computed exactly with absorbing-chain linear algebra.

The chain (ChannelAttribution's convention, so results compare directly):

* optional: consecutive repeats of a channel collapse into one touch ("a > a > b" is "a > b");
* the state after a touch is the tuple of the last ``k`` channels (fewer at the start of a
  journey: order 2 turns "a > b > c" into states (a), (a, b), (b, c));
* every journey starts in ``(start)``; a path row adds ``conversions + nulls`` to each of its
  transitions ``(start) -> s1 -> ... -> sn``, then ``conversions`` to ``sn -> (conversion)``
  and ``nulls`` to ``sn -> (null)``; transition probabilities are the row-normalised counts;
* P(conversion) is the probability of absorption in ``(conversion)`` from ``(start)``,
  the solution of ``(I - Q) x = r`` (Q: transient-to-transient probabilities, r: one-step
  conversion probabilities), solved with a sparse LU factorisation;
* removing channel c sends every transition into a state that contains c to ``(null)``;
  removal effect RE_c = 1 - P_without_c(conversion) / P(conversion);
* channel credit = total measure x RE_c / sum of all RE (for every measure: conversions,
  value, pipeline, ...).

Nothing is simulated: results are exact and deterministic (ChannelAttribution estimates the
same quantities by Monte Carlo).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from cueva.attribution.paths import PathSet
from cueva.errors import UsageError

START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"


@dataclass
class MarkovResult:
    """Everything the exact Markov model computes."""

    channels: list[str]
    order: int
    credit: dict[str, np.ndarray]  # measure -> per channel
    removal_effects: np.ndarray  # per channel, in [0, 1]
    conversion_probability: float  # from (start)
    null_probability: float
    states: list[tuple[int, ...]]  # transient states except (start), channel-code tuples
    transitions: sp.csr_matrix  # probabilities; rows/cols: (start), states..., conv, null
    measure_removal_effects: dict[str, np.ndarray]  # per measure (money uses its own rewards)

    def state_names(self, sep: str = " > ") -> list[str]:
        names = [sep.join(self.channels[c] for c in s) for s in self.states]
        return [START, *names, CONVERSION, NULL]

    def transition_matrix(self) -> pd.DataFrame:
        """Non-zero transition probabilities as a long frame (from_state, to_state, probability)."""
        names = np.asarray(self.state_names(), dtype=object)
        coo = self.transitions.tocoo()
        frame = pd.DataFrame(
            {"from_state": names[coo.row], "to_state": names[coo.col], "probability": coo.data}
        )
        return frame.sort_values(["from_state", "to_state"], kind="stable").reset_index(drop=True)

    def removal_frame(self) -> pd.DataFrame:
        re = self.removal_effects
        total = re.sum()
        return pd.DataFrame(
            {
                "channel": self.channels,
                "removal_effect": re,
                "share": re / total if total > 0 else np.zeros_like(re),
            }
        )


def _collapse(ps: PathSet) -> tuple[np.ndarray, np.ndarray]:
    """Drop touches that repeat the previous touch's channel; return (touches, offsets)."""
    t = ps.touches
    keep = np.ones(len(t), dtype=bool)
    if len(t):
        keep[1:] = t[1:] != t[:-1]
        starts = ps.offsets[:-1][ps.lengths > 0]
        keep[starts] = True
    new_len = np.bincount(ps.path_of_touch[keep], minlength=ps.n_paths)
    offsets = np.concatenate([[0], np.cumsum(new_len)]).astype(np.int64)
    return t[keep], offsets


def _state_codes(
    touches: np.ndarray, offsets: np.ndarray, order: int, n_channels: int
) -> np.ndarray:
    """Integer code of the state after every touch: base-(C+1) digits of the last k channels."""
    base = np.int64(n_channels + 1)
    if float(n_channels + 1) ** order >= 2**62:
        raise UsageError(f"order {order} with {n_channels} channels is too large to encode")
    lengths = np.diff(offsets)
    pos = np.arange(len(touches), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    digit = touches.astype(np.int64) + 1
    code = digit.copy()
    for lag in range(1, order):
        prev = np.zeros_like(code)
        prev[lag:] = digit[:-lag]
        prev[pos < lag] = 0  # before the journey's start: empty digit
        code = code + prev * base**lag
    return code


def _absorb(q: sp.csr_matrix, r: np.ndarray, keep: np.ndarray | None = None) -> float:
    """P(absorption in conversion) from state 0 (start), over the kept transient states."""
    if keep is not None:
        idx = np.flatnonzero(keep)
        q = q[idx][:, idx]
        r = r[idx]
    n = q.shape[0]
    a = (sp.identity(n, format="csc") - q).tocsc()
    x = spla.spsolve(a, r) if n > 1 else np.array([r[0] / a[0, 0]])
    return float(np.atleast_1d(x)[0])


def markov_attribution(ps: PathSet, order: int = 1, collapse_repeats: bool = False) -> MarkovResult:
    """Exact Markov attribution of order ``order`` (see the module docstring)."""
    if order < 1:
        raise UsageError(f"the Markov order must be at least 1, got {order}")
    n_ch = ps.n_channels
    weight = ps.conversions + ps.nulls
    if collapse_repeats:
        touches, offsets = _collapse(ps)
    else:
        touches, offsets = ps.touches, ps.offsets
    lengths = np.diff(offsets)
    use = (lengths > 0) & (weight > 0)
    if not use.any() or ps.conversions[use].sum() <= 0:
        raise UsageError("no converting journeys with touches: nothing to attribute")

    codes = _state_codes(touches, offsets, order, n_ch)
    pos = np.arange(len(touches)) - np.repeat(offsets[:-1], lengths)
    path_of_touch = np.repeat(np.arange(len(lengths)), lengths)
    # States: windows of k touches from the k-th touch on (a journey shorter than k is one
    # state); consecutive repeats of a state collapse into one (self-loops change nothing).
    keep_t = (pos >= order - 1) | (pos == np.repeat(lengths, lengths) - 1)
    same_as_prev = np.zeros(len(codes), dtype=bool)
    same_as_prev[1:] = (codes[1:] == codes[:-1]) & (path_of_touch[1:] == path_of_touch[:-1])
    # a dropped prefix touch never equals a kept window state (different digit counts)
    keep_t &= ~same_as_prev
    codes, path_of_touch = codes[keep_t], path_of_touch[keep_t]
    lengths = np.bincount(path_of_touch, minlength=len(lengths))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    pos = np.arange(len(codes)) - np.repeat(offsets[:-1], lengths)

    uniq, state_of_touch = np.unique(codes, return_inverse=True)
    n_s = len(uniq)
    # indices: 0 = start, 1..n_s = states, n_s+1 = conversion, n_s+2 = null
    conv_i, null_i, size = n_s + 1, n_s + 2, n_s + 3
    sidx = state_of_touch.astype(np.int64).ravel() + 1
    frm = np.zeros(len(codes), dtype=np.int64)
    frm[1:] = sidx[:-1]
    frm[pos == 0] = 0
    touch_use = use[path_of_touch]
    last = offsets[1:][use] - 1
    rows = np.concatenate([frm[touch_use], sidx[last], sidx[last]])
    cols = np.concatenate([sidx[touch_use], np.full(len(last), conv_i), np.full(len(last), null_i)])
    vals = np.concatenate([weight[path_of_touch][touch_use], ps.conversions[use], ps.nulls[use]])
    counts = sp.csr_matrix((vals, (rows, cols)), shape=(size, size))
    counts.sum_duplicates()
    out = np.asarray(counts.sum(axis=1)).ravel()
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    probs = sp.csr_matrix(sp.diags(inv) @ counts)

    n_t = n_s + 1  # transient: start + states
    q = probs[:n_t, :n_t].tocsr()
    rewards = {}
    for name, values in ps.measures.items():
        # expected measure on absorption: P(s -> conversion) x mean measure per conversion
        # ending in s, i.e. (measure of journeys ending in s) / (weight leaving s)
        ending = np.bincount(sidx[last], weights=values[use], minlength=n_t)[:n_t]
        rewards[name] = ending * inv[:n_t]
    r_null = np.asarray(probs[:n_t, null_i].todense()).ravel()
    base = {name: _absorb(q, r) for name, r in rewards.items()}
    p_conv = base["conversions"]
    p_null = _absorb(q, r_null)

    # channel membership of every state, from the base-(C+1) digits of its code
    digits = (uniq[:, None] // (np.int64(n_ch + 1) ** np.arange(order))[None, :]) % (n_ch + 1)
    state_tuples = [tuple(int(d) - 1 for d in row[::-1] if d > 0) for row in digits]
    removal = {name: np.zeros(n_ch) for name in rewards}
    for ch in range(n_ch):
        gone = (digits == ch + 1).any(axis=1)
        if not gone.any():
            continue
        keep = np.concatenate([[True], ~gone])
        for name, r in rewards.items():
            if base[name] > 0:
                removal[name][ch] = 1.0 - _absorb(q, r, keep) / base[name]
    has_touch = ps.lengths > 0
    credit = {}
    for name, values in ps.measures.items():
        re = np.clip(removal[name], 0.0, 1.0)
        total_re = re.sum()
        share = re / total_re if total_re > 0 else np.zeros(n_ch)
        credit[name] = share * float(values[has_touch].sum())
    return MarkovResult(
        channels=list(ps.channels),
        order=order,
        credit=credit,
        removal_effects=np.clip(removal["conversions"], 0.0, 1.0),
        conversion_probability=p_conv,
        null_probability=p_null,
        states=state_tuples,
        transitions=probs,
        measure_removal_effects={k: np.clip(v, 0.0, 1.0) for k, v in removal.items()},
    )


__all__ = ["CONVERSION", "NULL", "START", "MarkovResult", "markov_attribution"]
