"""Chart specs for the meeting pack: Vega-Altair charts, rendered to SVG by vl-convert.

Each builder takes a small result frame and the (already translated) title and axis labels,
and returns an Altair chart; :func:`to_svg` renders one to an SVG string for inlining. The
same spec (``chart.to_dict()``) can be served to a browser for an interactive view. Colours
come from the Okabe-Ito palette, which stays distinguishable with the common forms of colour
blindness; every chart has a title and axis titles, and its SVG an ``aria-label``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

#: Okabe & Ito (2008), "Color Universal Design": safe for deuteranopia, protanopia, tritanopia.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",
)
#: Waterfall colours: up, down, total (blue / vermillion / grey differ in lightness too).
UP, DOWN, TOTAL = "#0072B2", "#D55E00", "#7F7F7F"

FONT = "DejaVu Sans"
_CONFIG: dict[str, Any] = {
    "font": FONT,
    "title": {"fontSize": 13, "anchor": "start"},
    "axis": {"labelFontSize": 10, "titleFontSize": 11},
    "legend": {"labelFontSize": 10, "titleFontSize": 11, "orient": "bottom"},
    "view": {"stroke": None},
}


def _finish(chart: Any, title: str, description: str) -> Any:
    return chart.properties(title=title, description=description).configure(**_CONFIG)


def funnel_chart(
    frame: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    series_title: str,
    width: int = 520,
) -> Any:
    """Grouped horizontal bars, one group per stage (in the frame's order).

    ``frame`` columns: ``stage`` (display label), ``series`` (e.g. the period, the plan, the
    previous period), ``value`` (entries).
    """
    import altair as alt

    order = list(dict.fromkeys(frame["stage"]))
    series = list(dict.fromkeys(frame["series"]))
    base = alt.Chart(frame).encode(
        # the contract's stage labels can be long ("Lead cualificado por marketing (MQL)")
        y=alt.Y("stage:N", sort=order, title=y_title, axis=alt.Axis(labelLimit=260)),
        yOffset=alt.YOffset("series:N", sort=series),
        x=alt.X("value:Q", title=x_title),
        color=alt.Color(
            "series:N",
            sort=series,
            title=series_title,
            scale=alt.Scale(domain=series, range=list(PALETTE[: len(series)])),
        ),
        tooltip=["stage:N", "series:N", "value:Q"],
    )
    chart = base.mark_bar().properties(width=width, height=alt.Step(12))
    return _finish(chart, title, title)


def waterfall_chart(
    steps: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    width: int = 560,
) -> Any:
    """A waterfall from a base (plan or the earlier period) through factor contributions to
    the actual value.

    ``steps`` columns: ``label`` (bar label, e.g. "Win rate (sales)"), ``start``, ``end``
    (the running total before and after the bar), ``kind`` (``total``, ``up``, ``down``),
    ``text`` (the formatted amount shown on the bar).
    """
    import altair as alt

    order = list(steps["label"])
    kinds = ["total", "up", "down"]
    chart = (
        alt.Chart(steps)
        .mark_bar()
        .encode(
            x=alt.X("label:N", sort=order, title=x_title, axis=alt.Axis(labelAngle=-30)),
            y=alt.Y("start:Q", title=y_title),
            y2="end:Q",
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=kinds, range=[TOTAL, UP, DOWN]),
                legend=None,
            ),
            tooltip=["label:N", "text:N"],
        )
    )
    steps = steps.assign(_top=steps[["start", "end"]].max(axis=1))
    text = (
        alt.Chart(steps)
        .mark_text(dy=-6, fontSize=9)
        .encode(x=alt.X("label:N", sort=order), y="_top:Q", text="text:N")
    )
    return _finish(alt.layer(chart, text).properties(width=width, height=240), title, title)


def bars_by_channel(
    frame: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    series_title: str,
    width: int = 520,
) -> Any:
    """Grouped horizontal bars per channel: ``channel``, ``series`` (pipeline, revenue,
    spend, ...), ``value``."""
    import altair as alt

    order = list(dict.fromkeys(frame["channel"]))
    series = list(dict.fromkeys(frame["series"]))
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("channel:N", sort=order, title=y_title),
            yOffset=alt.YOffset("series:N", sort=series),
            x=alt.X("value:Q", title=x_title),
            color=alt.Color(
                "series:N",
                sort=series,
                title=series_title,
                scale=alt.Scale(domain=series, range=list(PALETTE[: len(series)])),
            ),
            tooltip=["channel:N", "series:N", "value:Q"],
        )
        .properties(width=width, height=alt.Step(10))
    )
    return _finish(chart, title, title)


def sparkline(values: Sequence[float | None], *, description: str) -> Any:
    """A small trend line without axes (the table around it carries the numbers)."""
    import altair as alt

    frame = pd.DataFrame({"i": range(len(values)), "v": list(values)})
    chart = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=12, color=PALETTE[0]), color=PALETTE[0])
        .encode(
            x=alt.X("i:Q", axis=None, scale=alt.Scale(nice=False)),
            y=alt.Y("v:Q", axis=None, scale=alt.Scale(zero=False)),
        )
        .properties(width=90, height=22, description=description)
        .configure(view={"stroke": None})
    )
    return chart


def warm_up() -> None:
    """Import Altair and start the chart engine (vl-convert's JavaScript runtime, about a
    second the first time in a process) with a one-point chart, so the first chart does not
    wait for them. The engine runs outside the GIL: calling this in a thread overlaps the
    start with other work."""
    import altair  # noqa: F401  (imported here, off the main thread, for the builders)
    import vl_convert as vlc

    spec = {"mark": "point", "data": {"values": [{"x": 1}]}, "encoding": {"x": {"field": "x"}}}
    vlc.vegalite_to_svg(spec, allowed_base_urls=[])


_ID = re.compile(r'\bid="([^"]+)"')
_counter = itertools.count(1)


#: d3 number/time format locales of the report languages (thousands and decimal marks).
D3_LOCALES = {"en": "en-US", "es": "es-ES"}


def to_svg(chart: Any, lang: str = "en") -> str:
    """Render an Altair chart (or a Vega-Lite spec dict) to an SVG string.

    Element ids are made unique per chart (Vega numbers its clip paths from 1 in every
    chart), so several SVGs can be inlined in one HTML page. Text from the data is escaped by
    the SVG writer (a channel called ``<script>`` stays text).
    """
    import vl_convert as vlc

    spec = chart if isinstance(chart, dict) else chart.to_dict()
    locale: Any = D3_LOCALES.get(lang, "en-US")
    # no base URL is allowed: the charts carry their data inline and fetch nothing
    svg: str = vlc.vegalite_to_svg(
        spec, format_locale=locale, time_format_locale=locale, allowed_base_urls=[]
    )
    prefix = f"c{next(_counter)}-"
    ids = set(_ID.findall(svg))
    if ids:
        svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
        svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
        svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :].lstrip()
    return svg


__all__ = [
    "D3_LOCALES",
    "DOWN",
    "PALETTE",
    "TOTAL",
    "UP",
    "bars_by_channel",
    "funnel_chart",
    "sparkline",
    "to_svg",
    "warm_up",
    "waterfall_chart",
]
