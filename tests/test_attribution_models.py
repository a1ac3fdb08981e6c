"""Attribution models on path data: reference outputs, hand-computed examples, properties."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cueva.attribution.markov import markov_attribution
from cueva.attribution.paths import (
    MARK_CLOSE,
    MARK_LEAD,
    MARK_OPPORTUNITY,
    PathFileError,
    PathSet,
    from_lists,
    paths_from_frame,
    read_path_file,
)
from cueva.attribution.report import attribute
from cueva.attribution.rules import heuristic_credit
from cueva.attribution.settings import AttributionSettings
from cueva.attribution.shapley import (
    ordered_shapley_attribution,
    shapley_attribution,
    shapley_values,
)
from cueva.errors import CuevaError, UsageError
from tests.conftest import SHARED, shared_file

# shared/ lies beside the repository (for CI too); a missing file fails, never skips.
DATA = SHARED / "data" / "attribution"
needs_data = pytest.mark.usefixtures("reference_data")


@pytest.fixture
def reference_data() -> None:
    shared_file("data", "attribution", "Data.csv")


@pytest.fixture(scope="module")
def data_paths() -> PathSet:
    return read_path_file(DATA / "Data.csv")


def by_name(ps: PathSet, values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=ps.channels)


# ----------------------------------------------------------------- reference: ChannelAttribution


@needs_data
@pytest.mark.parametrize(
    ("model", "ref"),
    [("first_touch", "first_touch"), ("last_touch", "last_touch"), ("linear", "linear_touch")],
)
def test_heuristics_equal_channelattribution_reference(
    data_paths: PathSet, model: str, ref: str
) -> None:
    expected = pd.read_csv(
        DATA / "reference_heuristic_models_channelattribution_2.2.5.csv"
    ).set_index("channel_name")
    got = heuristic_credit(data_paths, model)
    conv = by_name(data_paths, got["conversions"]).reindex(expected.index)
    value = by_name(data_paths, got["value"]).reindex(expected.index)
    assert set(data_paths.channels) == set(expected.index)
    np.testing.assert_allclose(conv, expected[f"{ref}_conversions"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(value, expected[f"{ref}_value"], rtol=1e-9, atol=1e-9)


@needs_data
def test_markov_close_to_channelattribution_monte_carlo(data_paths: PathSet) -> None:
    """ChannelAttribution simulates; its big channels land within a few percent of the exact
    values (measured: at most 2.6%), small ones further away."""
    expected = pd.read_csv(
        DATA / "reference_markov_order1_seed1234_channelattribution_2.2.5.csv"
    ).set_index("channel_name")
    got = by_name(data_paths, markov_attribution(data_paths).credit["conversions"])
    big = expected.index[expected.total_conversions > 1000]
    rel = (got[big] / expected.total_conversions[big] - 1).abs()
    assert rel.max() < 0.03
    assert got.sum() == pytest.approx(expected.total_conversions.sum(), rel=1e-9)


# ----------------------------------------------------------------- Markov


def test_markov_hand_computed_chain() -> None:
    # start->a 2, start->b 2; a->b 1, a->null 1; b->conv 2, b->null 1
    # P(conv) = .5*.5*2/3 + .5*2/3 = 1/2; without a: 1/3 (RE 1/3); without b: 0 (RE 1)
    ps = from_lists([["a", "b"], ["a"], ["b"]], conversions=[1, 0, 1], nulls=[0, 1, 1])
    r = markov_attribution(ps)
    assert r.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert r.null_probability == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(r.removal_effects, [1 / 3, 1.0], atol=1e-12)
    np.testing.assert_allclose(r.credit["conversions"], [0.5, 1.5], atol=1e-12)
    tm = r.transition_matrix().set_index(["from_state", "to_state"]).probability
    assert tm[("(start)", "a")] == pytest.approx(0.5)
    assert tm[("a", "(null)")] == pytest.approx(0.5)
    assert tm[("b", "(conversion)")] == pytest.approx(2 / 3)


def _reference_markov(paths: list[list[str]], conv: list[float], null: list[float], k: int):
    """Independent reference: dictionaries and a dense inverse of (I - Q)."""
    counts: dict[tuple, dict[tuple, float]] = defaultdict(lambda: defaultdict(float))
    ends_value: dict[tuple, float] = defaultdict(float)
    for p, c, n in zip(paths, conv, null, strict=False):
        if not p or c + n <= 0:
            continue
        states = [tuple(p[max(0, i - k + 1) : i + 1]) for i in range(len(p))]
        states = states[k - 1 :] if len(p) >= k else [tuple(p)]
        dedup = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
        prev: tuple = ("(start)",)
        for s in dedup:
            counts[prev][s] += c + n
            prev = s
        counts[prev][("(conv)",)] += c
        counts[prev][("(null)",)] += n
        ends_value[prev] += c
    transient = [("(start)",), *sorted({s for s in counts if s != ("(start)",)})]
    index = {s: i for i, s in enumerate(transient)}
    m = len(transient)

    def p_conv(removed: str | None) -> float:
        q = np.zeros((m, m))
        r = np.zeros(m)
        for s, outs in counts.items():
            total = sum(outs.values())
            if removed is not None and removed in s:
                continue
            for t, w in outs.items():
                if t == ("(conv)",):
                    r[index[s]] += w / total
                elif t == ("(null)",) or (removed is not None and removed in t):
                    continue
                else:
                    q[index[s], index[t]] += w / total
        return float(np.linalg.solve(np.eye(m) - q, r)[0])

    base = p_conv(None)
    channels = sorted({c for p in paths for c in p})
    re = {ch: 1 - p_conv(ch) / base for ch in channels}
    total = sum(conv)
    return {ch: total * re[ch] / sum(re.values()) for ch in channels}, base


@needs_data
@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_matches_independent_dense_reference(data_paths: PathSet, order: int) -> None:
    sample = slice(0, 1500 if order == 1 else 500)
    paths = [p.split(" > ") for p in data_paths.path_strings()[sample]]
    conv = list(data_paths.conversions[sample])
    null = list(data_paths.nulls[sample])
    expected, p_conv = _reference_markov(paths, conv, null, order)
    ps = from_lists(paths, conv, null)
    r = markov_attribution(ps, order=order)
    assert r.conversion_probability == pytest.approx(p_conv, rel=1e-9)
    got = by_name(ps, r.credit["conversions"])
    for ch, v in expected.items():
        assert got[ch] == pytest.approx(v, rel=1e-9, abs=1e-9)


@needs_data
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_markov_conservation_and_absorption(data_paths: PathSet, order: int) -> None:
    r = markov_attribution(data_paths, order=order)
    assert r.conversion_probability + r.null_probability == pytest.approx(1.0, abs=1e-9)
    assert r.credit["conversions"].sum() == pytest.approx(data_paths.conversions.sum(), rel=1e-12)
    assert r.credit["value"].sum() == pytest.approx(data_paths.measures["value"].sum(), rel=1e-12)
    assert (r.removal_effects >= 0).all() and (r.removal_effects <= 1).all()
    # every transient row of the transition matrix is a probability distribution
    rows = np.asarray(r.transitions.sum(axis=1)).ravel()[: len(r.states) + 1]
    np.testing.assert_allclose(rows, 1.0, atol=1e-12)


@needs_data
@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_invariant_to_channel_renaming(data_paths: PathSet, order: int) -> None:
    rng = np.random.default_rng(7)
    names = data_paths.channels
    new = [f"x{i}" for i in rng.permutation(len(names))]
    rename = dict(zip(names, new, strict=False))
    renamed = PathSet(
        channels=[rename[c] for c in names][::-1],
        offsets=data_paths.offsets,
        touches=(len(names) - 1 - data_paths.touches).astype(np.int32),
        measures=dict(data_paths.measures),
        nulls=data_paths.nulls,
    )
    a = by_name(data_paths, markov_attribution(data_paths, order=order).credit["conversions"])
    b = by_name(renamed, markov_attribution(renamed, order=order).credit["conversions"])
    np.testing.assert_allclose(a.rename(rename).sort_index(), b.sort_index(), rtol=1e-9)


@needs_data
def test_markov_collapse_option_changes_only_higher_orders(data_paths: PathSet) -> None:
    one = markov_attribution(data_paths, 1).credit["conversions"]
    one_c = markov_attribution(data_paths, 1, collapse_repeats=True).credit["conversions"]
    np.testing.assert_allclose(one, one_c, rtol=1e-9)
    two = markov_attribution(data_paths, 2).credit["conversions"]
    two_c = markov_attribution(data_paths, 2, collapse_repeats=True).credit["conversions"]
    assert np.abs(two / two_c - 1).max() > 1e-3


def test_markov_needs_conversions() -> None:
    with pytest.raises(UsageError, match="nothing to attribute"):
        markov_attribution(from_lists([["a"]], conversions=[0], nulls=[3]))


# ----------------------------------------------------------------- rule-based


def test_fractional_conversions_stay_fractional() -> None:
    ps = from_lists([["a", "b"], ["b"]], conversions=[0.5, 0.25], value=np.array([10.0, 1.0]))
    lin = heuristic_credit(ps, "linear")
    np.testing.assert_allclose(lin["conversions"], [0.25, 0.5])
    np.testing.assert_allclose(lin["value"], [5.0, 6.0])
    mk = markov_attribution(ps).credit["conversions"]
    assert mk.sum() == pytest.approx(0.75)


def test_position_based_last_non_direct_and_custom() -> None:
    ps = from_lists(
        [["a", "b", "c", "d"], ["a", "direct"], ["direct"], ["e", "f"]],
        conversions=[1, 1, 1, 1],
    )
    s = AttributionSettings()
    pb = by_name(ps, heuristic_credit(ps, "position_based", s)["conversions"])
    # 4 touches: .4 first, .1 + .1 middle, .4 last; 2 touches: .5/.5; 1 touch: all
    assert pb["a"] == pytest.approx(0.4 + 0.5)
    assert pb["b"] == pytest.approx(0.1) and pb["c"] == pytest.approx(0.1)
    assert pb["direct"] == pytest.approx(0.5 + 1.0)
    lnd = by_name(ps, heuristic_credit(ps, "last_non_direct", s)["conversions"])
    assert lnd["a"] == 1 and lnd["d"] == 1 and lnd["direct"] == 1 and lnd["f"] == 1
    custom = AttributionSettings(custom_weights=[3, 1, 0])
    cw = by_name(ps, heuristic_credit(ps, "custom", custom)["conversions"])
    # 4 touches at relative positions 0, 1/3, 2/3, 1 -> profile 3, 1, 1, 0 -> /5
    assert cw["a"] == pytest.approx(0.6 + 1.0)
    assert cw["b"] == pytest.approx(0.2) and cw["d"] == pytest.approx(0.0)


def test_time_decay_and_milestone_models_by_hand() -> None:
    ps = from_lists([["a", "b", "c", "d", "e"]], conversions=[1.0])
    ps.touch_age_days = np.array([14.0, 7.0, 7.0, 0.0, 0.0])
    ps.marks = np.array([0, MARK_LEAD, 0, MARK_OPPORTUNITY, MARK_CLOSE], dtype=np.uint8)
    s = AttributionSettings(half_life_days=7)
    td = heuristic_credit(ps, "time_decay", s)["conversions"]
    raw = np.array([0.25, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(td, raw / raw.sum())
    w = heuristic_credit(ps, "w_shaped", s)["conversions"]
    # first .3, lead .3, opportunity .3, the two others share .1
    np.testing.assert_allclose(w, [0.3, 0.3, 0.05, 0.3, 0.05])
    fp = heuristic_credit(ps, "full_path", s)["conversions"]
    np.testing.assert_allclose(fp, [0.225, 0.225, 0.1, 0.225, 0.225])


def test_path_file_models_that_need_timestamps_say_so() -> None:
    ps = from_lists([["a"]], conversions=[1])
    with pytest.raises(UsageError, match="timestamps"):
        heuristic_credit(ps, "time_decay")
    with pytest.raises(UsageError, match="milestones"):
        heuristic_credit(ps, "w_shaped")


# ----------------------------------------------------------------- Shapley


def _brute_shapley(v: dict[frozenset, float], players: list[int]) -> np.ndarray:
    n = len(players)
    phi = np.zeros(n)
    for perm in itertools.permutations(players):
        seen: set[int] = set()
        for p in perm:
            phi[p] += v[frozenset(seen | {p})] - v[frozenset(seen)]
            seen.add(p)
    return phi / math.factorial(n)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.floats(-5, 5, allow_nan=False), min_size=2**n - 1, max_size=2**n - 1),
        )
    )
)
def test_shapley_values_equal_permutation_definition(case: tuple[int, list[float]]) -> None:
    n, vals = case
    game = np.array([0.0, *vals])
    v = {frozenset(i for i in range(n) if m >> i & 1): game[m] for m in range(2**n)}
    np.testing.assert_allclose(
        shapley_values(game, n), _brute_shapley(v, list(range(n))), atol=1e-9
    )


journeys = st.lists(
    st.tuples(
        st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6),
        st.floats(0, 10, allow_nan=False),
        st.floats(0, 10, allow_nan=False),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(journeys, st.sampled_from(["conversions", "conversion_rate"]))
def test_shapley_efficiency_symmetry_null_player(rows, value) -> None:
    paths = [p for p, _, _ in rows]
    conv = [c for _, c, _ in rows]
    null = [n for _, _, n in rows]
    if sum(conv) <= 0:
        conv[0] = 1.0
    # symmetry: every journey once with x and once with y: swapping x and y changes nothing
    sym_paths = [[*p, "x"] for p in paths] + [[*p, "y"] for p in paths]
    # null player: "z" only ever appears in journeys with no conversions
    sym_paths.append(["z"])
    ps = from_lists(sym_paths, conv + conv + [0.0], null + null + [2.0])
    credit, _phi = shapley_attribution(ps, value)
    got = by_name(ps, credit["conversions"])
    assert got.sum() == pytest.approx(2 * sum(conv), rel=1e-9)  # efficiency
    assert got["x"] == pytest.approx(got["y"], rel=1e-9, abs=1e-9)  # symmetry
    if value == "conversions":
        assert got["z"] == pytest.approx(0.0, abs=1e-9)  # null player


def test_shapley_hand_computed_three_channels() -> None:
    # journeys by channel set: {a}: 10 conv of 100, {b}: 5 of 50, {a,b}: 20 of 100, {a,b,c}: 6 of 20
    ps = from_lists(
        [["a"], ["b"], ["a", "b"], ["c", "a", "b"]],
        conversions=[10, 5, 20, 6],
        nulls=[90, 45, 80, 14],
    )
    credit, _ = shapley_attribution(ps, "conversions")
    # v additive: dividends 10 {a}, 5 {b}, 20 {a,b}, 6 {a,b,c} -> a = 10+10+2, b = 5+10+2, c = 2
    np.testing.assert_allclose(by_name(ps, credit["conversions"])[["a", "b", "c"]], [22, 17, 2])
    # conversion rate: v(a)=.1, v(b)=.1, v(c)=0, v(ab)=35/250=.14, v(ac)=.1, v(bc)=.1,
    # v(abc)=41/270. phi_c = 1/3*(0) + 1/6*(0) + 1/6*(0) + 1/3*(41/270-.14); a and b symmetric
    credit, phi = shapley_attribution(ps, "conversion_rate")
    vabc = 41 / 270
    phi_c = (vabc - 0.14) / 3
    phi_a = (vabc - phi_c) / 2
    np.testing.assert_allclose(by_name(ps, phi)[["a", "b", "c"]], [phi_a, phi_a, phi_c])
    np.testing.assert_allclose(credit["conversions"].sum(), 41)


def test_ordered_shapley_hand_computed() -> None:
    """Zhao et al.'s ordered Shapley: each journey's conversions are shared evenly by its
    distinct channels, each share at the position where the channel joined the journey."""
    ps = from_lists(
        [["a", "b", "a"], ["b", "c"], ["c"], ["a", "b"]],
        conversions=[1, 2, 1, 0],
        nulls=[0, 0, 0, 3],
        pipeline=[100, 40, 0, 0],
    )
    credit, grid = ordered_shapley_attribution(ps)
    # a > b > a (1): a joins 1st, b 2nd, 1/2 each (a's repeat moves nothing); b > c (2): b 1st,
    # c 2nd, 1 each; c (1): c 1st; a > b converts nothing
    expected = {"a": [0.5, 0.0], "b": [1.0, 0.5], "c": [1.0, 1.0]}
    got = {c: list(grid["conversions"][ps.channels.index(c)]) for c in expected}
    assert got == expected
    assert by_name(ps, credit["conversions"]).to_dict() == {"a": 0.5, "b": 1.5, "c": 2.0}
    # money the same way: 100 over a@1 and b@2, 40 over b@1 and c@2
    pipe = {c: list(grid["pipeline"][ps.channels.index(c)]) for c in expected}
    assert pipe == {"a": [50.0, 0.0], "b": [20.0, 50.0], "c": [0.0, 20.0]}
    # through attribute(): the positions frame and the model name
    r = attribute(ps, "shapley_ordered")
    assert r.positions is not None
    cells = {(row.channel, row.position): row.conversions for row in r.positions.itertuples()}
    assert cells == {("a", 1): 0.5, ("b", 1): 1.0, ("b", 2): 0.5, ("c", 1): 1.0, ("c", 2): 1.0}


@settings(max_examples=60, deadline=None)
@given(journeys)
def test_ordered_shapley_efficiency_and_sum_over_positions(rows) -> None:
    paths = [p for p, _, _ in rows]
    conv = [c for _, c, _ in rows]
    ps = from_lists(paths, conv, [n for _, _, n in rows])
    credit, grid = ordered_shapley_attribution(ps)
    # efficiency: the credits sum to the conversions; over positions they are the Shapley value
    assert grid["conversions"].sum() == pytest.approx(sum(conv), rel=1e-9, abs=1e-9)
    plain, _ = shapley_attribution(ps, "conversions")
    np.testing.assert_allclose(credit["conversions"], plain["conversions"], atol=1e-9)
    # a channel can only be credited at a position up to the journeys' distinct-channel count
    width = max(len(set(p)) for p in paths)
    assert grid["conversions"].shape == (ps.n_channels, width)


@needs_data
def test_shapley_conversions_equals_even_split_over_distinct_channels(data_paths: PathSet) -> None:
    credit, _ = shapley_attribution(data_paths)
    expected = np.zeros(data_paths.n_channels)
    for p, c in zip(data_paths.path_strings(), data_paths.conversions, strict=False):
        distinct = set(p.split(" > "))
        for ch in distinct:
            expected[data_paths.channels.index(ch)] += c / len(distinct)
    np.testing.assert_allclose(credit["conversions"], expected, rtol=1e-9)


def test_shapley_twenty_channels() -> None:
    rng = np.random.default_rng(3)
    names = [f"ch{i:02d}" for i in range(20)]
    paths = [list(rng.choice(names, size=rng.integers(1, 6))) for _ in range(400)]
    ps = from_lists(paths, conversions=rng.poisson(1.0, 400), nulls=rng.poisson(3.0, 400))
    credit, _ = shapley_attribution(ps, "conversion_rate")
    assert credit["conversions"].sum() == pytest.approx(ps.conversions.sum())


# ----------------------------------------------------------------- malformed path files


def _file(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "paths.csv"
    p.write_text("path;total_conversions;total_conversion_value;total_null\n" + body)
    return p


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a > b;1;1;0\n;1;2;0\n", "row 3, column path '': empty path"),
        ("a > b;1;1;0\n > > ;1;2;0\n", "row 3, column path ' > > ': empty channel name"),
        ("a >> b;1;1;0\n", "row 2, column path 'a >> b': empty channel name"),
        ("a;1;1;0\nb;-1;2;0\n", "row 3, column total_conversions: negative"),
        ("a;1;1;0\nb;1;2;-4\n", "row 3, column total_null: negative"),
        ("a;1;x;0\n", "row 2, column total_conversion_value: not a number"),
        ("a;1;1;0\nb;1;;0\n", "row 3, column total_conversion_value: not a number"),
    ],
)
def test_malformed_path_files(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(PathFileError) as err:
        read_path_file(_file(tmp_path, body))
    assert message in str(err.value)
    assert isinstance(err.value, CuevaError) and isinstance(err.value, ValueError)


def test_path_file_structure_errors(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text("path,total_conversions\na,1\n")
    with pytest.raises(PathFileError, match="wrong --sep"):
        read_path_file(p)
    p.write_text("route;total_conversions\na;1\n")
    with pytest.raises(PathFileError, match="missing column"):
        read_path_file(p)
    with pytest.raises(PathFileError, match="no such path file"):
        read_path_file(tmp_path / "missing.csv")
    p.write_text("path;total_conversions\n")
    with pytest.raises(PathFileError, match="no rows"):
        read_path_file(p)


def test_unknown_channel_names(tmp_path: Path) -> None:
    p = _file(tmp_path, "email > paid;1;1;0\nemail;1;1;0\nemial > paid;1;1;1\n")
    with pytest.raises(PathFileError, match=r"row 4, column path: unknown channel\(s\) 'emial'"):
        read_path_file(p, known_channels=["email", "paid"])


def test_path_file_groups_repeated_paths_and_optional_columns(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text("path;total_conversions\nb > a;1.5\nc;2\n b>a ;0.5\nb > a;1\n")
    ps = read_path_file(p)
    # rows with the same channels in the same order are summed, whatever their spacing
    assert ps.path_strings() == ["b > a", "c"]
    np.testing.assert_allclose(ps.conversions, [3.0, 2.0])
    np.testing.assert_allclose(ps.nulls, [0.0, 0.0])
    # the same from a frame in memory (grouped as text first, then by channel sequence)
    frame = pd.DataFrame(
        {"path": ["b > a", "c", " b>a ", "b > a"], "total_conversions": [1.5, 2, 0.5, 1]}
    )
    pf = paths_from_frame(frame)
    assert pf.path_strings() == ["b > a", "c"]
    np.testing.assert_allclose(pf.conversions, [3.0, 2.0])
    assert "value" not in ps.measures
    lin = by_name(ps, heuristic_credit(ps, "linear")["conversions"])
    assert lin.to_dict() == {"b": 1.5, "a": 1.5, "c": 2.0}


def _grouped_by_pandas(frame: pd.DataFrame, sep: str = ">") -> pd.DataFrame:
    """Reference grouping: channels trimmed and joined with " > ", summed, first-seen order."""
    key = frame.path.str.split(sep, regex=False).map(
        lambda parts: " > ".join(p.strip() for p in parts)
    )
    cols = [c for c in frame.columns if c != "path"]
    return frame.assign(path=key).groupby("path", sort=False)[cols].sum().reset_index()


def test_streamed_reading_equals_a_whole_file_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path file is split and encoded block by block; with tiny blocks (many of them,
    channels first seen in later blocks) the result equals a plain pandas grouping."""
    import cueva.attribution.paths as paths_mod

    frame = pd.read_csv(DATA / "Data.csv", sep=";")
    monkeypatch.setattr(paths_mod, "BLOCK_SIZE", 4096)
    ps = read_path_file(DATA / "Data.csv")
    ref = _grouped_by_pandas(frame)
    assert ps.path_strings() == list(ref.path)
    np.testing.assert_allclose(ps.conversions, ref.total_conversions, rtol=1e-12)
    np.testing.assert_allclose(ps.measures["value"], ref.total_conversion_value, rtol=1e-12)
    np.testing.assert_allclose(ps.nulls, ref.total_null, rtol=1e-12)
    whole = paths_from_frame(frame)  # the in-memory reader groups the same way
    assert whole.path_strings() == ps.path_strings() and whole.channels == ps.channels


@pytest.mark.parametrize(
    ("sep", "longest"), [(">", 40), ("|", 40), ("=>", 40), ("→", 40), (">", 6), ("=>", 6)]
)
def test_random_spacing_unicode_and_separators_equal_a_pandas_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sep: str, longest: int
) -> None:
    """Paths cut at the separator's bytes (one ASCII character) or by Arrow's split (several
    characters), in tiny blocks: random spacing around names, multi-byte UTF-8 names, quoted
    fields with the CSV separator inside, lengths 1-40 (one to three key words with 9
    channels) or 1-6 (one word), equal the plain pandas grouping; the in-memory reader
    agrees."""
    import cueva.attribution.paths as paths_mod

    rng = np.random.default_rng(11)
    names = np.array(["a", "bé", "直接", "paid;search", "e", "f f", "g", "h", "i"])
    pads = np.array(["", " ", "  ", "\t"])
    rows = []
    for _ in range(3000):
        n = int(rng.integers(1, longest + 1)) if rng.random() < 0.3 else int(rng.integers(1, 4))
        parts = [
            pads[rng.integers(4)] + c + pads[rng.integers(4)]
            for c in names[rng.integers(0, 3 + n % 7, n)]
        ]
        rows.append((sep.join(parts), float(rng.integers(0, 3)), float(rng.integers(0, 5))))
    frame = pd.DataFrame(rows, columns=["path", "total_conversions", "total_null"])
    f = tmp_path / "p.csv"
    frame.to_csv(f, sep=";", index=False)
    monkeypatch.setattr(paths_mod, "BLOCK_SIZE", 4096)

    def slow_way(*args: object) -> None:
        raise AssertionError("a well-formed file is read the slow way")

    monkeypatch.setattr(paths_mod, "_read_numeric_fast", slow_way)
    ps = read_path_file(f, path_sep=sep)
    ref = _grouped_by_pandas(frame, sep)
    assert len(ref) < len(frame) and ps.lengths.max() == longest
    assert ps.path_strings() == list(ref.path)
    np.testing.assert_array_equal(ps.conversions, ref.total_conversions)
    np.testing.assert_array_equal(ps.nulls, ref.total_null)
    whole = paths_from_frame(frame, path_sep=sep)
    assert whole.path_strings() == ps.path_strings() and whole.channels == ps.channels


def test_long_paths_group_exactly(tmp_path: Path) -> None:
    """Paths longer than one 64-bit key word (3 channels: 31 touches a word), and longer than
    the 4 words keyed together (124 touches), differing only late in the path stay apart;
    identical ones are summed; first-seen order is kept across short and long rows."""
    rng = np.random.default_rng(3)
    base = list(rng.choice(["a", "b", "c"], size=200))
    rows = []
    for i in range(60):
        p = list(base)
        p[70 - (i % 4)] = "abc"[i % 3]  # differ only deep into the path
        rows.append((" > ".join(p[: (40, 100, 130, 160)[i % 4] + i % 2]), float(i % 5), 1.0))
    frame = pd.DataFrame(rows, columns=["path", "total_conversions", "total_null"])
    f = tmp_path / "long.csv"
    frame.to_csv(f, sep=";", index=False)
    ps = read_path_file(f)
    ref = _grouped_by_pandas(frame)
    assert len(ref) < len(frame)  # some rows repeat
    assert ps.path_strings() == list(ref.path)
    assert (ps.lengths > 124).any() and (ps.lengths <= 124).any()
    np.testing.assert_allclose(ps.conversions, ref.total_conversions)
    np.testing.assert_allclose(ps.nulls, ref.total_null)


def test_campaign_credit_of_markov_and_shapley_by_hand() -> None:
    """Markov and Shapley credit a channel; its campaigns share it like the linear model
    credits them within the channel (docs/attribution.md, campaign credit)."""
    ps = from_lists(
        [["a", "b"], ["a", "a"], ["a"], ["b"]],
        conversions=[1, 1, 2, 0],
        nulls=[0, 0, 0, 1],
        pipeline=[100, 0, 50, 0],
    )
    # campaigns per touch: a(k1) > b(k2); a(k1) > a(none); a(k3); b(none)
    ps.touch_campaign = np.array([0, 1, 0, -1, 2, -1], dtype=np.int32)
    ps.campaigns = ["k1", "k2", "k3"]
    ps.campaign_channel = ["a", "b", "a"]
    # linear conversions within a: k1 .5 + .5, none .5, k3 2 -> shares 2/7, 1/7, 4/7; b: k2 1
    # linear pipeline within a: k1 50, k3 50 -> 1/2 each; b: k2 1
    r = attribute(ps, "shapley,markov")
    assert r.campaigns is not None
    for model in ("shapley", "markov"):
        ch = r.credits[r.credits.model == model].set_index("channel")
        camp = r.campaigns[r.campaigns.model == model].set_index("campaign_id")
        conv_a, conv_b = ch.conversions["a"], ch.conversions["b"]
        pipe_a, pipe_b = ch.pipeline["a"], ch.pipeline["b"]
        np.testing.assert_allclose(
            camp.conversions[["k1", "k2", "k3"]], [conv_a * 2 / 7, conv_b, conv_a * 4 / 7]
        )
        np.testing.assert_allclose(
            camp.pipeline[["k1", "k2", "k3"]], [pipe_a / 2, pipe_b, pipe_a / 2]
        )
    # Shapley by hand: a 0.5 + 1 + 2 = 3.5, b 0.5 -> k1 1.0, k2 0.5, k3 2.0
    camp = r.campaigns[r.campaigns.model == "shapley"].set_index("campaign_id")
    assert camp.conversions.to_dict() == pytest.approx({"k1": 1.0, "k2": 0.5, "k3": 2.0})
    assert camp.channel.to_dict() == {"k1": "a", "k2": "b", "k3": "a"}


def test_rows_longer_than_a_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A path longer than the reader's block (4 KB here, 128 KB by default) is read, and a
    malformed file with one is still located (the blocks grow to hold the longest line)."""
    import cueva.attribution.paths as paths_mod

    monkeypatch.setattr(paths_mod, "BLOCK_SIZE", 4096)
    long = " > ".join(["alpha", "beta"] * 1500)  # about 18 KB
    p = _file(tmp_path, f"{long};1;2;0\na > b;1;1;1\n{long};0.5;1;0\n")
    ps = read_path_file(p)
    assert ps.n_paths == 2 and ps.lengths.tolist() == [3000, 2]
    np.testing.assert_allclose(ps.conversions, [1.5, 1.0])
    bad = _file(tmp_path, f"{long};1;2;0\na > b;1;x;1\n")
    with pytest.raises(PathFileError, match="row 3, column total_conversion_value: not a number"):
        read_path_file(bad)


@pytest.mark.parametrize("high", [50, 1 << 40, 1 << 62])
def test_sequence_key_order_is_a_stable_sort(high: int) -> None:
    """Keys that fit beside the row number in a uint64 are sorted packed; larger ones are
    argsorted: either way the order equals a stable argsort (equal keys in row order)."""
    from cueva.attribution.paths import _key_order

    keys = np.random.default_rng(5).integers(0, high, size=5000, dtype=np.int64)
    keys[::7] = keys[3]  # many equal keys
    np.testing.assert_array_equal(
        _key_order(keys[None, :], len(keys)), np.argsort(keys, kind="stable")
    )
