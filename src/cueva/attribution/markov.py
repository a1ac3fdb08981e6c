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
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from cueva.attribution.paths import PathSet
from cueva.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

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
        import pandas as pd  # only for the frames: the model itself needs numpy and scipy

        names = np.asarray(self.state_names(), dtype=object)
        coo = self.transitions.tocoo()
        frame = pd.DataFrame(
            {"from_state": names[coo.row], "to_state": names[coo.col], "probability": coo.data}
        )
        return frame.sort_values(["from_state", "to_state"], kind="stable").reset_index(drop=True)

    def removal_frame(self) -> pd.DataFrame:
        import pandas as pd

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


def _int_type(bound: float) -> Any:
    """int16, int32 or int64: the smallest that holds values below ``bound``."""
    return np.int16 if bound < 2**15 else np.int32 if bound < 2**31 else np.int64


def _state_codes(
    touches: np.ndarray, offsets: np.ndarray, order: int, n_channels: int
) -> np.ndarray:
    """Integer code of the state after every touch: base-(C+1) digits of the last k channels
    (0 digits before the journey's start; code 0 is never a state, it stands for (start))."""
    if float(n_channels + 1) ** order >= 2**62:
        raise UsageError(f"order {order} with {n_channels} channels is too large to encode")
    # the smallest integer type that holds the codes: memory over the touches
    dtype = _int_type(float(n_channels + 1) ** order)
    base = n_channels + 1
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    digit = touches.astype(dtype) + 1
    code = digit
    for lag in range(1, order):
        prev = np.zeros_like(code)
        prev[lag:] = digit[:-lag]
        for j in range(lag):  # the first `lag` touches of a journey have no touch `lag` back
            prev[starts[lengths > j] + j] = 0
        code = code + prev * base**lag
    return code


#: Chains up to this many transient states are solved densely (LU); larger ones iteratively.
DENSE_MAX = 150
#: Largest accepted relative residual max|(I - Q) x - r| / max|r| of an iterative solve
#: before falling back to sparse LU.
RESIDUAL_TOL = 1e-12


def _absorb(q: sp.csr_matrix, r: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Expected reward on absorption from state 0 (start), for every column of ``r``
    (``r[:, 0]`` = one-step conversion probabilities gives P(conversion)), over the kept
    transient states.

    Small chains: dense LU. Large ones (high orders): BiCGSTAB to a relative tolerance of
    1e-14, accepted only if the relative residual is below :data:`RESIDUAL_TOL`, else sparse LU
    (whose fill-in makes it slow on order-3+ chains, hence not the first choice).
    """
    if keep is not None:
        idx = np.flatnonzero(keep)
        q = q[idx][:, idx]
        r = r[idx]
    n = q.shape[0]
    if n <= DENSE_MAX:
        a = np.eye(n) - q.toarray()
        return np.asarray(np.linalg.solve(a, r)[0])
    import scipy.sparse.linalg as spla  # only large chains need it (0.08 s to import)

    a_sp = (sp.identity(n, format="csr") - q).tocsr()
    out = np.zeros(r.shape[1])
    lu = None
    for j in range(r.shape[1]):
        rj = r[:, j]
        x, info = spla.bicgstab(a_sp, rj, rtol=1e-14, atol=0.0, maxiter=20 * n)
        scale = max(float(np.abs(rj).max()), 1e-300)
        if info != 0 or np.abs(a_sp @ x - rj).max() > RESIDUAL_TOL * scale:
            lu = lu or spla.splu(a_sp.tocsc())
            x = lu.solve(rj)
        out[j] = x[0]
    return out


def _dense_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like ``np.unique(codes, return_inverse=True)``, by counting when codes are small."""
    if len(codes) and codes.min() >= 0 and codes.max() < max(4 * len(codes), 1 << 16):
        present = np.bincount(codes) > 0
        uniq = np.flatnonzero(present)
        remap = (np.cumsum(present) - 1).astype(codes.dtype)
        return uniq.astype(np.int64), remap[codes]
    uniq, inverse = np.unique(codes, return_inverse=True)
    return uniq, inverse.ravel()


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

    conv_all, null_all = ps.conversions, ps.nulls
    measures = dict(ps.measures)
    if not use.all():  # journeys without touches or weight add nothing to the chain
        touches = touches[np.repeat(use, lengths)]
        lengths = lengths[use]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        weight, conv_all, null_all = weight[use], conv_all[use], null_all[use]
        measures = {k: v[use] for k, v in measures.items()}
    starts, ends = offsets[:-1], offsets[1:] - 1

    codes = _state_codes(touches, offsets, order, n_ch)
    # States: windows of k touches from the k-th touch on (a journey shorter than k is one
    # state); consecutive repeats of a state collapse into one (self-loops change nothing).
    if order > 1:
        pos = np.arange(len(touches), dtype=np.int64) - np.repeat(starts, lengths)
        keep_t = pos >= order - 1
        keep_t[ends] = True
    else:
        keep_t = np.ones(len(codes), dtype=bool)
    same_as_prev = np.zeros(len(codes), dtype=bool)
    same_as_prev[1:] = codes[1:] == codes[:-1]
    same_as_prev[starts] = False
    keep_t &= ~same_as_prev
    del same_as_prev
    kept_len = np.add.reduceat(keep_t.astype(np.int64), starts)
    codes = codes[keep_t]
    del keep_t
    offsets = np.concatenate([[0], np.cumsum(kept_len)]).astype(np.int64)
    end_code = codes[offsets[1:] - 1].astype(np.int64)

    # transitions between states, summed by (from, to) pair without indexing every touch:
    # pair code = previous state x m + state (previous state 0 = (start))
    m = np.int64(codes.max()) + 1
    pdtype = _int_type(float(m) * float(m))
    pair_code = codes.astype(pdtype)
    pair_code[1:] += codes[:-1].astype(pdtype) * pdtype(m)
    pair_code[offsets[:-1]] = codes[offsets[:-1]]  # first state of a journey: from (start)
    del codes
    pair, pair_index = _dense_codes(pair_code)
    del pair_code
    pair = pair.astype(np.int64)
    pair_w = np.zeros(len(pair))
    step = 1 << 16
    for a in range(0, len(kept_len), step):  # journeys a..b: no per-touch weight array
        b = min(a + step, len(kept_len))
        pair_w += np.bincount(
            pair_index[offsets[a] : offsets[b]],
            weights=np.repeat(weight[a:b], kept_len[a:b]),
            minlength=len(pair),
        )
    del pair_index
    uniq = np.unique(np.concatenate([pair % m, end_code]))  # every state, sorted
    n_s = len(uniq)
    # indices: 0 = start, 1..n_s = states, n_s+1 = conversion, n_s+2 = null
    conv_i, null_i, size = n_s + 1, n_s + 2, n_s + 3
    pf, pt = pair // m, pair % m
    rows_p = np.where(pf == 0, 0, np.searchsorted(uniq, pf) + 1)
    cols_p = np.searchsorted(uniq, pt) + 1
    end_idx = np.searchsorted(uniq, end_code) + 1
    end_conv = np.bincount(end_idx, weights=conv_all, minlength=n_s + 1)
    end_null = np.bincount(end_idx, weights=null_all, minlength=n_s + 1)
    states_idx = np.arange(n_s + 1)
    rows = np.concatenate([rows_p, states_idx, states_idx])
    cols = np.concatenate([cols_p, np.full(n_s + 1, conv_i), np.full(n_s + 1, null_i)])
    vals = np.concatenate([pair_w, end_conv, end_null])
    counts = sp.csr_matrix((vals, (rows, cols)), shape=(size, size))
    counts.eliminate_zeros()
    out = np.asarray(counts.sum(axis=1)).ravel()
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    probs = sp.csr_matrix(sp.diags(inv) @ counts)

    n_t = n_s + 1  # transient: start + states
    q = probs[:n_t, :n_t].tocsr()
    rewards = {}
    for name in ps.measures:
        # expected measure on absorption: P(s -> conversion) x mean measure per conversion
        # ending in s, i.e. (measure of journeys ending in s) / (weight leaving s)
        ending = np.bincount(end_idx, weights=measures[name], minlength=n_t)[:n_t]
        rewards[name] = ending * inv[:n_t]
    r_null = np.asarray(probs[:n_t, null_i].todense()).ravel()
    names = list(rewards)
    rhs = np.column_stack([rewards[k] for k in names])
    base_all = _absorb(q, np.column_stack([rhs, r_null]))
    base = dict(zip(names, base_all[:-1], strict=True))
    p_conv, p_null = float(base["conversions"]), float(base_all[-1])

    # channel membership of every state, from the base-(C+1) digits of its code
    digits = (uniq[:, None] // (np.int64(n_ch + 1) ** np.arange(order))[None, :]) % (n_ch + 1)
    state_tuples = [tuple(int(d) - 1 for d in row[::-1] if d > 0) for row in digits]
    removal = {name: np.zeros(n_ch) for name in names}
    for ch in range(n_ch):
        gone = (digits == ch + 1).any(axis=1)
        if not gone.any():
            continue
        without = _absorb(q, rhs, np.concatenate([[True], ~gone]))
        for j, name in enumerate(names):
            if base[name] > 0:
                removal[name][ch] = 1.0 - without[j] / base[name]
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
