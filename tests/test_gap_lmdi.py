"""LMDI-I: exact additivity, the hand-computed example and the zero-value limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cueva.errors import UsageError
from cueva.gap.lmdi import lmdi, lmdi_segments, logmean


def _scale(v0: float, v1: float) -> float:
    return max(1.0, abs(v0), abs(v1))


def test_two_factor_example_by_hand() -> None:
    # V = leads x revenue-per-lead. Period 0: 100 leads x 50 = 5000; period 1: 80 x 75 = 6000.
    # L(6000, 5000) = 1000 / ln(1.2) = 1000 / 0.1823216 = 5484.815
    # leads:  L * ln(0.8) = 5484.815 * -0.2231436 = -1223.901
    # yield:  L * ln(1.5) = 5484.815 *  0.4054651 =  2223.901
    c = lmdi([100.0, 50.0], [80.0, 75.0])
    lm = 1000.0 / math.log(1.2)
    assert lm == pytest.approx(5484.815, abs=1e-3)
    assert c[0] == pytest.approx(lm * math.log(0.8), rel=1e-12)
    assert c[1] == pytest.approx(lm * math.log(1.5), rel=1e-12)
    assert c[0] == pytest.approx(-1223.901, abs=1e-3)
    assert c[1] == pytest.approx(2223.901, abs=1e-3)
    assert c.sum() == pytest.approx(1000.0, abs=1e-9)


def test_logmean_properties() -> None:
    assert logmean(3.0, 3.0) == pytest.approx(3.0)
    assert logmean(2.0, 0.0) == 0.0
    assert logmean(np.e, 1.0) == pytest.approx(np.e - 1.0)
    # symmetric, between the geometric and the arithmetic mean
    a, b = 7.0, 2.0
    assert logmean(a, b) == pytest.approx(logmean(b, a))
    assert math.sqrt(a * b) < logmean(a, b) < (a + b) / 2
    # close values: no cancellation blow-up
    assert logmean(1.0, 1.0 + 1e-13) == pytest.approx(1.0, rel=1e-12)


positive = st.floats(min_value=1e-9, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def factor_pairs(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    k = draw(st.integers(min_value=1, max_value=7))
    x0 = draw(st.lists(positive, min_size=k, max_size=k))
    x1 = []
    for v in x0:
        kind = draw(st.sampled_from(["same", "free", "near"]))
        if kind == "same":
            x1.append(v)  # an unchanged factor
        elif kind == "near":
            x1.append(v * (1 + draw(st.floats(min_value=-1e-12, max_value=1e-12))))
        else:
            x1.append(draw(positive))
    return x0, x1


@settings(max_examples=200, deadline=None)
@given(factor_pairs())
def test_exact_additivity(pair: tuple[list[float], list[float]]) -> None:
    x0, x1 = pair
    c = lmdi(x0, x1)
    v0, v1 = math.prod(x0), math.prod(x1)
    assert abs(c.sum() - (v1 - v0)) <= 1e-9 * _scale(v0, v1)
    for i, (a, b) in enumerate(zip(x0, x1, strict=True)):
        if a == b:
            assert c[i] == 0.0  # unchanged factors contribute nothing
        else:
            assert np.sign(c[i]) == np.sign(b - a)  # direction follows the factor


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(positive, st.just(0.0)), min_size=4, max_size=4),
        min_size=2,
        max_size=8,
    ),
    st.lists(
        st.lists(st.one_of(positive, st.just(0.0)), min_size=4, max_size=4),
        min_size=2,
        max_size=8,
    ),
)
def test_segments_with_zeros_add_up(a: list[list[float]], b: list[list[float]]) -> None:
    n = min(len(a), len(b))
    x0, x1 = np.array(a[:n]), np.array(b[:n])
    _table, by_factor, by_segment = lmdi_segments(x0, x1)
    v0 = np.prod(x0, axis=1)
    v1 = np.prod(x1, axis=1)
    scale = max(1.0, float(np.abs(v0).max()), float(np.abs(v1).max()))
    assert np.all(np.abs(by_segment - (v1 - v0)) <= 1e-9 * scale)
    assert abs(by_factor.sum() - (v1.sum() - v0.sum())) <= 1e-9 * scale * n


def test_zero_limits_match_delta_substitution() -> None:
    # A channel with no leads in period 0: its whole revenue goes to the zero factor.
    x0 = np.array([0.0, 0.2, 0.5])
    x1 = np.array([120.0, 0.25, 0.4])
    c = lmdi(x0, x1)
    v1 = 120 * 0.25 * 0.4
    assert c.tolist() == [v1, 0.0, 0.0]
    # Ang & Liu (2007): substituting a tiny delta approaches the same split as delta -> 0.
    for delta, tol in ((1e-30, 0.05), (1e-300, 0.01)):
        approx = lmdi(np.where(x0 == 0, delta, x0), x1)
        assert np.allclose(approx, c, atol=tol * v1)
    # Two zero factors share the change equally; to-zero gives negative shares.
    assert lmdi([0.0, 0.0, 3.0], [2.0, 5.0, 3.0]).tolist() == [15.0, 15.0, 0.0]
    assert lmdi([2.0, 5.0, 3.0], [2.0, 0.0, 3.0]).tolist() == [0.0, -30.0, 0.0]
    assert lmdi([0.0, 5.0], [2.0, 0.0]).tolist() == [0.0, 0.0]


def test_rejects_negative_and_non_finite() -> None:
    with pytest.raises(UsageError, match=">= 0"):
        lmdi([1.0, -2.0], [1.0, 2.0])
    with pytest.raises(UsageError, match="finite"):
        lmdi([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(UsageError, match="shape"):
        lmdi([1.0], [1.0, 2.0])
