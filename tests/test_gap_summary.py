"""Summary text and waterfall chart: generated from the numbers, in en and es."""

from __future__ import annotations

import pandas as pd
import pytest

from cueva.contract import Contract
from cueva.errors import UsageError
from cueva.gap.chart import render, waterfall_frame, waterfall_spec
from cueva.gap.decompose import GapResult, decompose
from cueva.gap.summary import caveat, money, summary
from cueva.workspace import Workspace

STAGES = ["lead", "mql", "sql", "opportunity", "won"]


def counts(rows: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=[*STAGES, "revenue"])


@pytest.fixture
def result(workspace: Workspace) -> GapResult:
    # plan: 1000 leads, win rate 20/60, 20k deals = 400k; actual: win rate 15/60, 22k deals
    base = counts({"all": [1000, 300, 150, 60, 20, 400_000]})
    actual = counts({"all": [1000, 300, 150, 60, 15, 330_000]})
    return decompose(workspace.contract, base, actual, period="2026-Q2", base_label="plan")


def test_money_formatting() -> None:
    assert money(180_000) == "180k"
    assert money(-150_000, signed=True) == "-150k"
    assert money(20_000, signed=True) == "+20k"
    assert money(1_234_567) == "1.23M"
    assert money(1_234_567, "es") == "1,23M"
    assert money(2_500) == "2.5k"
    assert money(950) == "950"


def test_summary_english(result: GapResult) -> None:
    text = summary(result)
    f = result.factors.set_index("factor")["contribution"]
    assert text.startswith("Revenue was 70k below plan (330k against 400k).")
    # the biggest factor comes first, with its owner and rounded values from the numbers
    win = money(float(f["win_rate"]), signed=True)
    deal = money(float(f["deal_size"]), signed=True)
    assert (
        f"Win rate fell from 33% to 25% ({win}, sales); deal size rose from 20k to 22k ({deal}, sales)"
        in text
    )
    assert "; lead volume, MQL rate, SQL rate and opportunity rate were on plan." in text
    assert text.index("Win rate") < text.index("deal size")


def test_summary_spanish_and_periods(workspace: Workspace, result: GapResult) -> None:
    base = counts({"all": [1000, 300, 150, 60, 20, 400_000]})
    actual = counts({"all": [1000, 300, 150, 60, 15, 330_000]})
    es = decompose(
        workspace.contract, base, actual, period="2026-Q2", base_label="2026-Q1", language="es"
    )
    text = summary(es)
    assert text.startswith("Los ingresos quedaron 70k por debajo de 2026-Q1 (330k frente a 400k).")
    assert "tasa de cierre bajó de 33% a 25%" in text.lower()
    assert "ventas" in text
    assert "mezclan cohortes" in caveat(es)
    assert "mix cohorts" in caveat(result)


def test_summary_names_the_segment(workspace: Workspace) -> None:
    base = counts(
        {"events": [500, 200, 100, 50, 20, 400_000], "paid": [500, 100, 50, 20, 5, 50_000]}
    )
    actual = counts(
        {"events": [500, 200, 100, 50, 20, 400_000], "paid": [200, 40, 20, 8, 2, 20_000]}
    )
    res = decompose(workspace.contract, base, actual, by="channel")
    text = summary(res)
    assert "The largest change by channel: paid (-30k), mostly lead volume." in text


def test_waterfall_bars_chain(result: GapResult) -> None:
    frame = waterfall_frame(result)
    assert frame["bar"].iloc[0] == "plan" and frame["bar"].iloc[-1] == "actual"
    assert frame["start"].iloc[0] == 0 and frame["end"].iloc[0] == pytest.approx(400_000)
    # each factor bar starts where the previous ended; the last one ends at the actual
    middle = frame.iloc[1:-1]
    assert (middle["start"].to_numpy()[1:] == middle["end"].to_numpy()[:-1]).all()
    assert middle["end"].iloc[-1] == pytest.approx(330_000)
    assert "win rate (sales)" in set(frame["bar"])


def test_waterfall_spec_and_render(result: GapResult) -> None:
    spec = waterfall_spec(result)
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert spec["title"] == "Revenue: plan to 2026-Q2"
    svg = render(spec, "svg")
    assert isinstance(svg, str) and svg.lstrip().startswith("<svg")
    assert "win rate (sales)" in svg and "deal size (sales)" in svg
    png = render(spec, "png")
    assert isinstance(png, bytes) and png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UsageError):
        render(spec, "gif")


def test_margin_decomposition(workspace: Workspace) -> None:
    contract: Contract = workspace.contract
    cols = [*STAGES, "revenue", "gross_margin"]
    base = pd.DataFrame([[1000, 300, 150, 60, 20, 400_000, 300_000]], index=["all"], columns=cols)
    actual = pd.DataFrame([[1000, 300, 150, 60, 20, 400_000, 280_000]], index=["all"], columns=cols)
    res = decompose(contract, base, actual, margin=True)
    f = res.factors.set_index("factor")
    assert res.metric == "gross_margin"
    assert f.loc["margin_rate", "contribution"] == pytest.approx(-20_000)
    assert f.loc["margin_rate", "owner"] == "sales"
    assert summary(res).startswith("Gross margin was 20k below base")


def test_public_api_is_pinned() -> None:
    import cueva.gap

    assert cueva.gap.__all__ == sorted(cueva.gap.__all__)
    assert set(cueva.gap.__all__) >= {"gap_report", "make_plan", "save_plan", "lmdi", "summary"}
    for name in cueva.gap.__all__:
        assert getattr(cueva.gap, name) is not None
