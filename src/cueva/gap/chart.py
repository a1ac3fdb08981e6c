"""The waterfall chart of a gap: a Vega-Altair spec, rendered to SVG or PNG by vl-convert.

The functions return the spec (a dict), the SVG text or the PNG bytes; they write nothing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cueva.errors import UsageError
from cueva.gap.decompose import GapResult
from cueva.gap.summary import money

_TEXT = {
    "en": {"plan": "plan", "actual": "actual", "title": "{metric}: {base} to {period}",
           "revenue": "Revenue", "gross_margin": "Gross margin", "pipeline": "Pipeline created",
           "value": "amount"},
    "es": {"plan": "plan", "actual": "real", "title": "{metric}: de {base} a {period}",
           "revenue": "Ingresos", "gross_margin": "Margen bruto", "pipeline": "Pipeline creado",
           "value": "importe"},
}  # fmt: skip
_OWNERS = {"es": {"sales": "ventas", "shared": "compartido"}}


def waterfall_frame(result: GapResult) -> pd.DataFrame:
    """The bars of the waterfall: start (base total), one per factor, end (actual total).

    Columns: ``order``, ``bar`` (axis label: factor and owner), ``kind`` (total, up, down),
    ``start``, ``end``, ``amount``, ``text`` (the amount as a short label).
    """
    lang = result.language
    t = _TEXT.get(lang, _TEXT["en"])
    owners = _OWNERS.get(lang, {})
    base_name = t["plan"] if result.base_label == "plan" else result.base_label
    rows: list[dict[str, Any]] = [
        {"bar": base_name, "kind": "total", "start": 0.0, "end": result.base_total,
         "amount": result.base_total}
    ]  # fmt: skip
    running = result.base_total
    for r in result.factors.to_dict(orient="records"):
        c = float(r["contribution"])
        owner = owners.get(str(r["owner"]), str(r["owner"]))
        rows.append(
            {
                "bar": f"{r['label']} ({owner})",
                "kind": "up" if c >= 0 else "down",
                "start": running,
                "end": running + c,
                "amount": c,
            }
        )
        running += c
    actual_name = t["actual"] if result.base_label == "plan" else result.period or t["actual"]
    rows.append(
        {"bar": actual_name, "kind": "total", "start": 0.0, "end": result.actual_total,
         "amount": result.actual_total}
    )  # fmt: skip
    frame = pd.DataFrame(rows)
    frame.insert(0, "order", range(len(frame)))
    frame["text"] = [
        money(a, lang, signed=k != "total")
        for a, k in zip(frame["amount"], frame["kind"], strict=True)
    ]
    return frame


def waterfall_spec(result: GapResult, width: int = 640, height: int = 320) -> dict[str, Any]:
    """A Vega-Lite spec (dict) of the waterfall from the base to the actual."""
    import altair as alt

    lang = result.language
    t = _TEXT.get(lang, _TEXT["en"])
    data = waterfall_frame(result)
    base_name = t["plan"] if result.base_label == "plan" else result.base_label
    title = t["title"].format(
        metric=t.get(result.metric, result.metric),
        base=base_name,
        period=result.period or t["actual"],
    )
    order = list(data["bar"])
    money_metric = result.metric in ("revenue", "gross_margin", "pipeline")
    y_title = f"{t['value']} ({result.currency})" if money_metric else result.metric
    x = alt.X("bar:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30, labelLimit=220))
    color = alt.Color(
        "kind:N",
        scale=alt.Scale(domain=["total", "up", "down"], range=["#4c78a8", "#54a24b", "#e45756"]),
        legend=None,
    )
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("start:Q", title=y_title),
            y2="end:Q",
            color=color,
            tooltip=["bar:N", "text:N"],
        )
    )
    labels = (
        alt.Chart(data)
        .transform_calculate(top="max(datum.start, datum.end)")
        .mark_text(dy=-6)
        .encode(x=x, y="top:Q", text="text:N")
    )
    chart = (bars + labels).properties(width=width, height=height, title=title)
    spec: dict[str, Any] = chart.to_dict()
    return spec


def render(spec: dict[str, Any], fmt: str = "svg", scale: float = 2.0) -> str | bytes:
    """The chart as SVG text or PNG bytes (vl-convert, offline)."""
    import vl_convert as vlc

    if fmt == "svg":
        return str(vlc.vegalite_to_svg(spec))
    if fmt == "png":
        return bytes(vlc.vegalite_to_png(spec, scale=scale))
    raise UsageError(f"unknown chart format {fmt!r}; use svg or png")


__all__ = ["render", "waterfall_frame", "waterfall_spec"]
