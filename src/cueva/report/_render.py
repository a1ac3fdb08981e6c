"""Render a :class:`PackData` to one self-contained HTML page (and that page to PDF).

Views compute nothing: every number shown comes from the results in ``PackData``; this
module only formats them for the language, lays out charts and writes sentences.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from cueva.i18n import Formatter, check_language, translations
from cueva.report import charts
from cueva.report._data import SECTIONS, PackData

Gettext = Callable[[str], str]


def _labels(_: Gettext) -> dict[str, str]:
    """Display words for codes that appear in results (teams, statuses, factors)."""
    return {
        # teams
        "marketing": _("marketing"),
        "sales": _("sales"),
        "shared": _("shared"),
        # service level status
        "met": _("met"),
        "on track": _("on track"),
        "at risk": _("at risk"),
        "missed": _("missed"),
        "no data": _("no data"),
        "no target": _("no target"),
        # action status
        "open": _("open"),
        "done": _("done"),
        # gap factors (cueva.gap)
        "leads": _("Lead volume"),
        "mql_rate": _("MQL rate"),
        "sql_rate": _("MQL acceptance"),
        "opportunity_rate": _("Opportunity conversion"),
        "win_rate": _("Win rate"),
        "deal_size": _("Deal size"),
        "margin_rate": _("Gross margin rate"),
        "mix": _("Channel mix"),
        # attribution kinds
        "sourced": _("Marketing-sourced"),
        "influenced": _("Marketing-influenced"),
    }


def _word(labels: dict[str, str], code: Any) -> str:
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return ""
    return labels.get(str(code), str(code))


def _factor(labels: dict[str, str], row: Any) -> str:
    """A gap factor's display name: the gap analysis's own label when it has one."""
    label = row.get("label") if hasattr(row, "get") else None
    if isinstance(label, str) and label:
        return label[:1].upper() + label[1:]
    return _word(labels, row["factor"])


def _f(value: Any) -> float | None:
    """A plain float, or None for missing values."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return None
    return float(value)


@dataclass(frozen=True)
class _Own:
    """The contract's own text (stage labels, service-level names and promises, glossary
    definitions) in the report language: its translation there, else the text as written,
    else ``default`` (the result's own column) when the pack carries no contract."""

    data: PackData
    lang: str

    def stage(self, name: Any, default: Any) -> str:
        c = self.data.contract
        for s in c.funnel.stages if c is not None else ():
            if s.name == name:
                return s.label_in(self.lang)
        return str(default if isinstance(default, str) else name)

    def sla(self, name: Any, default_description: Any = "") -> tuple[str, str]:
        """(display name, promise) of the service level ``name``."""
        c = self.data.contract
        for sl in c.service_levels if c is not None else ():
            if sl.name == name:
                return sl.label_in(self.lang), sl.description_in(self.lang)
        text = default_description if isinstance(default_description, str) else ""
        return str(name), text

    def term(self, name: Any, label: Any, definition: Any) -> tuple[str, str]:
        """(display name, definition) of a glossary row: a contract term or stage."""
        c = self.data.contract
        if c is not None:
            for t in c.glossary:
                if t.name == name:
                    return t.label_in(self.lang), t.definition_in(self.lang)
            for s in c.funnel.stages:
                if s.name == name:
                    return s.label_in(self.lang), s.description_in(self.lang)
        return str(label if isinstance(label, str) else name), str(definition)


@cache
def _env(lang: str) -> Environment:
    env = Environment(
        loader=PackageLoader("cueva.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def css_string(text: str) -> str:
    """``text`` escaped for the inside of a double-quoted CSS string in a <style> element."""
    out = []
    for ch in text:
        if ch in '"\\<>&' or ord(ch) < 32:
            out.append(f"\\{ord(ch):X} ")
        else:
            out.append(ch)
    return "".join(out)


def _page_css(page_word: str) -> str:
    """The page-number rule, with the word for "Page" in the report language."""
    counter = f'"{css_string(page_word)} " counter(page) " / " counter(pages)'
    return "@page { @bottom-right { content: " + counter + "; } }"


def _css() -> str:
    return (resources.files("cueva.report") / "templates" / "pack.css").read_text("utf-8")


@dataclass
class _Ctx:
    data: PackData
    fmt: Formatter
    _: Gettext
    labels: dict[str, str]

    @property
    def own(self) -> _Own:
        return _Own(self.data, self.fmt.lang)

    def money(self, v: Any, digits: int = 0) -> str:
        return self.fmt.money(_f(v), digits)

    def value(self, v: Any, unit: str | None) -> str:
        x = _f(v)
        if unit in ("share", "percent", "rate"):
            return self.fmt.percent(x)
        if unit in ("money", "currency"):
            return self.fmt.money(x)
        if unit in ("hours",):
            return self.fmt.number(x, 1) + (" h" if x is not None else "")
        if x is not None and not float(x).is_integer():
            return self.fmt.number(x, 1)
        return self.fmt.number(x)


# --------------------------------------------------------------------------- summary


def _top_factors(data: PackData, n: int = 2) -> pd.DataFrame:
    g = data.gap
    if g is None or g.empty:
        return pd.DataFrame(columns=["factor", "owner", "contribution"])
    g = g[g["contribution"].abs() >= 0.5]  # a factor that moved nothing is no reason
    order = g["contribution"].abs().sort_values(ascending=False).index
    return g.loc[order].head(n)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def summary_paragraph(data: PackData, lang: str) -> str:
    """The one-paragraph summary, in ``lang``, from the numbers only."""
    lang = check_language(lang)
    _ = translations(lang).gettext
    fmt = Formatter(lang, data.currency)
    labels = _labels(_)
    parts: list[str] = []
    actual, base = data.revenue_actual, data.revenue_base
    if actual is None and data.deals is not None and not data.deals.empty:
        actual = _f(data.deals["won_amount"].iloc[0])
    # the gap analysis measures new-business revenue; without it, the revenue of won deals
    what = _("new-business revenue") if data.revenue_actual is not None else _("won revenue")
    vs_plan = data.vs_label == "plan"
    if base is None and vs_plan:
        base = data.revenue_plan
    elif base is None and data.deals_vs is not None and not data.deals_vs.empty:
        base = _f(data.deals_vs["won_amount"].iloc[0])
    if actual is not None and base is not None:
        diff = actual - base
        args = {
            "period": data.period.label,
            "actual": fmt.money(actual),
            "amount": fmt.money(abs(diff)),
            "base": fmt.money(base),
            "vs": data.vs_label,
            "what": what,
        }
        if abs(diff) < 0.005 * max(abs(base), 1.0):
            msg = (
                _("%(what)s in %(period)s was %(actual)s, on plan (%(base)s).")
                if vs_plan
                else _("%(what)s in %(period)s was %(actual)s, level with %(vs)s (%(base)s).")
            )
        elif diff < 0:
            msg = (
                _("%(what)s in %(period)s was %(actual)s, %(amount)s below plan (%(base)s).")
                if vs_plan
                else _("%(what)s in %(period)s was %(actual)s, %(amount)s below %(vs)s (%(base)s).")
            )
        else:
            msg = (
                _("%(what)s in %(period)s was %(actual)s, %(amount)s above plan (%(base)s).")
                if vs_plan
                else _("%(what)s in %(period)s was %(actual)s, %(amount)s above %(vs)s (%(base)s).")
            )
        parts.append(_sentence(msg % args))
    elif actual is not None:
        parts.append(
            _sentence(
                _("%(what)s in %(period)s was %(actual)s.")
                % {"period": data.period.label, "actual": fmt.money(actual), "what": what}
            )
        )
    else:
        parts.append(
            _("There is no revenue figure for %(period)s.") % {"period": data.period.label}
        )
    top = _top_factors(data)
    if len(top) >= 1:
        reasons = [
            _("%(factor)s (%(amount)s, %(owner)s)")
            % {
                "factor": _factor(labels, r),
                "amount": fmt.signed_money(_f(r["contribution"])),
                "owner": _word(labels, r["owner"]),
            }
            for _i, r in top.iterrows()
        ]
        if len(reasons) == 2:
            parts.append(
                _("The two biggest reasons: %(first)s and %(second)s.")
                % {"first": reasons[0], "second": reasons[1]}
            )
        else:
            parts.append(_("The biggest reason: %(first)s.") % {"first": reasons[0]})
    elif "gap" in data.unavailable:
        parts.append(_("The reasons are not broken down: the gap analysis is not available."))
    if data.funnel is not None and not data.funnel.empty:
        first = data.funnel.iloc[0]
        stage = _Own(data, lang).stage(first["stage"], first.get("label"))
        args2 = {"n": fmt.number(_f(first["entered"])), "stage": stage}
        parts.append(_("%(n)s entered the funnel as %(stage)s.") % args2)
    if data.deals is not None and not data.deals.empty:
        d = data.deals.iloc[0]
        if _f(d["win_rate"]) is None:
            parts.append(_("No deal was closed."))
        else:
            parts.append(
                _("%(won)s deals were won at a win rate of %(rate)s.")
                % {"won": fmt.number(_f(d["won"])), "rate": fmt.percent(_f(d["win_rate"]))}
            )
    if data.scorecard is not None and not data.scorecard.empty:
        missed = int((data.scorecard["status"] == "missed").sum())
        total = len(data.scorecard)
        ngettext = translations(lang).ngettext
        parts.append(
            ngettext(
                "%(missed)s of %(total)s service levels was missed.",
                "%(missed)s of %(total)s service levels were missed.",
                missed,
            )
            % {"missed": fmt.number(missed), "total": fmt.number(total)}
        )
    return " ".join(parts)


# --------------------------------------------------------------------------- agenda


def questions(lang: str) -> list[str]:
    """The five questions that open an honest conversation between the two heads."""
    _ = translations(check_language(lang)).gettext
    return [
        _("What do you need from my team?"),
        _("What pressures are you under?"),
        _("What am I doing that helps you?"),
        _("What do you think I undervalue or dismiss?"),
        _("What are my blind spots?"),
    ]


def agenda_items(data: PackData, lang: str) -> list[str]:
    """One item per missed service level and per gap factor over the threshold."""
    _ = translations(check_language(lang)).gettext
    fmt = Formatter(lang, data.currency)
    labels = _labels(_)
    ctx = _Ctx(data, fmt, _, labels)
    items: list[str] = []
    if data.scorecard is not None:
        for _i, r in data.scorecard[data.scorecard["status"] == "missed"].iterrows():
            unit = r.get("unit")
            items.append(
                _(
                    "Missed service level %(name)s (%(giver)s to %(receiver)s): "
                    "target %(target)s, actual %(actual)s."
                )
                % {
                    "name": ctx.own.sla(r["name"])[0],
                    "giver": _word(labels, r["giver"]),
                    "receiver": _word(labels, r["receiver"]),
                    "target": ctx.value(r["target"], unit),
                    "actual": ctx.value(r["actual"], unit),
                }
            )
    base = data.revenue_base
    if data.gap is not None and base:
        limit = data.agenda_threshold * abs(base)
        g = data.gap[data.gap["contribution"].abs() >= limit]
        g = g.loc[g["contribution"].abs().sort_values(ascending=False).index]
        for _i, r in g.iterrows():
            items.append(
                _("%(factor)s moved revenue by %(amount)s (owner: %(owner)s): what changed?")
                % {
                    "factor": _factor(labels, r),
                    "amount": fmt.signed_money(_f(r["contribution"])),
                    "owner": _word(labels, r["owner"]),
                }
            )
    return items


# --------------------------------------------------------------------------- sections


def _funnel_section(c: _Ctx) -> dict[str, Any]:
    d = c.data
    _ = c._
    f = d.funnel
    assert f is not None
    vs = d.funnel_vs.set_index("stage") if d.funnel_vs is not None else None
    plan = d.funnel_plan.set_index("stage") if d.funnel_plan is not None else None
    rows = []
    chart_rows = []
    for _i, r in f.iterrows():
        stage = r["stage"]
        label = c.own.stage(stage, r.get("label"))
        row = {
            "label": label,
            "owner": _word(c.labels, r["owner"]),
            "entered": c.fmt.number(_f(r["entered"])),
            "plan": c.fmt.number(_f(plan["planned"].get(stage))) if plan is not None else None,
            "vs": c.fmt.number(_f(vs["entered"].get(stage))) if vs is not None else None,
            "conversion": c.fmt.percent(_f(r.get("conversion_period"))),
            "cohort": c.fmt.percent(_f(r.get("conversion_cohort"))),
            "median_days": c.fmt.number(_f(r.get("median_days")), 1),
            "next": r.get("next_stage") if isinstance(r.get("next_stage"), str) else "",
        }
        rows.append(row)
        chart_rows.append({"stage": label, "series": d.period.label, "value": r["entered"]})
        if plan is not None and stage in plan.index:
            chart_rows.append(
                {"stage": label, "series": _("plan"), "value": plan["planned"][stage]}
            )
        if vs is not None and stage in vs.index:
            chart_rows.append(
                {"stage": label, "series": d.compare_label, "value": vs["entered"][stage]}
            )
    chart = charts.funnel_chart(
        pd.DataFrame(chart_rows),
        title=_("Funnel: entries per stage"),
        x_title=_("Entries"),
        y_title=_("Stage"),
        series_title=_("Period"),
    )
    deals = None
    if d.deals is not None and not d.deals.empty:
        r0 = d.deals.iloc[0]
        rv = d.deals_vs.iloc[0] if d.deals_vs is not None and not d.deals_vs.empty else None
        deals = [
            (
                _("Win rate"),
                c.fmt.percent(_f(r0["win_rate"])),
                c.fmt.percent(_f(rv["win_rate"])) if rv is not None else None,
            ),
            (
                _("Deals won"),
                c.fmt.number(_f(r0["won"])),
                c.fmt.number(_f(rv["won"])) if rv is not None else None,
            ),
            (
                _("Revenue won"),
                c.money(r0["won_amount"]),
                c.money(rv["won_amount"]) if rv is not None else None,
            ),
            (
                _("Average deal size"),
                c.money(r0["avg_deal_size"]),
                c.money(rv["avg_deal_size"]) if rv is not None else None,
            ),
            (
                _("Sales cycle (median days)"),
                c.fmt.number(_f(r0["sales_cycle_median_days"]), 1),
                c.fmt.number(_f(rv["sales_cycle_median_days"]), 1) if rv is not None else None,
            ),
        ]
    return {
        "rows": rows,
        "has_plan": plan is not None,
        "has_vs": vs is not None,
        "vs_label": d.compare_label,
        "chart": charts.to_svg(chart, c.fmt.lang),
        "chart_title": _("Funnel: entries per stage"),
        "deals": deals,
    }


def _scorecard_section(c: _Ctx) -> dict[str, Any]:
    s = c.data.scorecard
    assert s is not None
    order = {"missed": 0, "at risk": 1, "on track": 2, "met": 3}
    s = s.assign(_o=s["status"].map(order).fillna(4)).sort_values("_o", kind="stable")
    rows = []
    for _i, r in s.iterrows():
        unit = r.get("unit")
        trend = r.get("trend")
        spark = None
        if isinstance(trend, (list, tuple)) and len(trend) >= 2:
            spark = charts.to_svg(
                charts.sparkline([_f(v) for v in trend], description=c._("Trend")), c.fmt.lang
            )
        name, description = c.own.sla(r["name"], r.get("description"))
        rows.append(
            {
                "name": name,
                "description": description,
                "giver": _word(c.labels, r["giver"]),
                "receiver": _word(c.labels, r["receiver"]),
                "target": c.value(r["target"], unit),
                "actual": c.value(r["actual"], unit),
                "status": str(r["status"]).replace(" ", "_"),
                "status_text": _word(c.labels, r["status"]),
                "spark": spark,
            }
        )
    return {"rows": rows}


def _gap_section(c: _Ctx) -> dict[str, Any]:
    d = c.data
    _ = c._
    g = d.gap
    assert g is not None
    base = d.revenue_base or 0.0
    actual = d.revenue_actual or 0.0
    base_label = _("Plan") if d.vs_label == "plan" else d.vs_label
    steps = [
        {"label": base_label, "start": 0.0, "end": base, "kind": "total", "text": c.money(base)}
    ]
    running = base
    rows = []
    for _i, r in g.iterrows():
        contribution = _f(r["contribution"]) or 0.0
        label = f"{_factor(c.labels, r)} ({_word(c.labels, r['owner'])})"
        steps.append(
            {
                "label": label,
                "start": running,
                "end": running + contribution,
                "kind": "up" if contribution >= 0 else "down",
                "text": c.fmt.signed_money(contribution),
            }
        )
        running += contribution
        rows.append(
            {
                "factor": _factor(c.labels, r),
                "owner": _word(c.labels, r["owner"]),
                "base": c.value(r.get("base"), r.get("unit")),
                "actual": c.value(r.get("actual"), r.get("unit")),
                "contribution": c.fmt.signed_money(contribution),
                "negative": contribution < 0,
            }
        )
    steps.append(
        {
            "label": _("Actual"),
            "start": 0.0,
            "end": actual,
            "kind": "total",
            "text": c.money(actual),
        }
    )
    chart = charts.waterfall_chart(
        pd.DataFrame(steps),
        title=_("Revenue gap: from %(base)s to actual") % {"base": base_label},
        x_title=_("Factor (owner)"),
        y_title=_("New-business revenue"),
    )
    segments = None
    segment_factors: list[str] = []
    if d.gap_segments is not None:
        keys = [k for k in d.gap_segments.columns if k not in ("segment", "total")]
        segment_factors = [
            _factor(c.labels, {"factor": k, "label": d.gap_segment_labels.get(k)}) for k in keys
        ]
        segments = [
            {
                "segment": r["segment"],
                "cells": [c.fmt.signed_money(_f(r[k])) for k in keys],
                "total": c.fmt.signed_money(_f(r["total"])),
            }
            for _i, r in d.gap_segments.iterrows()
        ]
    return {
        "rows": rows,
        "chart": charts.to_svg(chart, c.fmt.lang),
        "caveat": d.gap_caveat,
        "segments": segments,
        "segment_factors": segment_factors,
        "segment_by": d.gap_segment_by,
        "base_label": base_label,
        "gap_total": c.fmt.signed_money(actual - base),
    }


def _attribution_section(c: _Ctx) -> dict[str, Any]:
    d = c.data
    _ = c._
    a = d.attribution
    assert a is not None
    rows = []
    chart_rows = []
    for _i, r in a.iterrows():
        rows.append(
            {
                "channel": r["channel"],
                "pipeline": c.money(r.get("pipeline")),
                "revenue": c.money(r.get("revenue")),
                "margin": c.money(r.get("margin")),
                "spend": c.money(r.get("spend")),
                "roi": c.fmt.percent(_f(r.get("roi")), 0),
            }
        )
        for key, name in (
            ("pipeline", _("Pipeline")),
            ("revenue", _("Revenue")),
            ("spend", _("Spend")),
        ):
            v = _f(r.get(key))
            if v is not None:
                chart_rows.append({"channel": r["channel"], "series": name, "value": v})
    chart = charts.bars_by_channel(
        pd.DataFrame(chart_rows),
        title=_("Attribution by channel (%(model)s)") % {"model": d.attribution_model or ""},
        x_title=_("Amount (%(currency)s)") % {"currency": d.currency},
        y_title=_("Channel"),
        series_title=_("Measure"),
    )
    sourced = None
    if d.sourced is not None:
        sourced = [
            {
                "kind": _word(c.labels, r["kind"]),
                "pipeline": c.money(r["pipeline"]),
                "share": c.fmt.percent(_f(r.get("share"))),
            }
            for _i, r in d.sourced.iterrows()
        ]
    return {
        "rows": rows,
        "chart": charts.to_svg(chart, c.fmt.lang) if chart_rows else None,
        "model": d.attribution_model,
        "milestone": c.own.stage(d.attribution_milestone, None) if d.attribution_milestone else "",
        "rule": d.sourced_rule,
        "sourced": sourced,
    }


def _actions_section(c: _Ctx) -> dict[str, Any]:
    a = c.data.actions
    rows = []
    if a is not None:
        for _i, r in a.iterrows():
            rows.append(
                {
                    "id": int(r["id"]),
                    "team": _word(c.labels, r["team"]),
                    "owner": r["owner"],
                    "due": c.fmt.date(r["due"]),
                    "status": _word(c.labels, r["status"]),
                    "overdue": bool(r["overdue"]),
                    "days_overdue": int(r["days_overdue"]),
                    "text": r["text"],
                }
            )
    return {"rows": rows}


def _glossary_section(c: _Ctx) -> dict[str, Any]:
    g = c.data.glossary
    rows = []
    if g is not None:
        for _i, r in g.iterrows():
            source = r.get("source", "contract")
            label, definition = (
                c.own.term(r["name"], r.get("label"), r["definition"])
                if source == "contract"
                # Cueva's standard definition, from the metric registry, is a catalog message
                else (str(r.get("label") or r["name"]), c._(str(r["definition"])))
            )
            rows.append(
                {
                    "name": label,
                    "definition": definition,
                    "owner": _word(c.labels, r.get("owner")),
                    "source": source,
                }
            )
    return {"rows": rows}


def context(data: PackData, lang: str) -> dict[str, Any]:
    """The template context: formatted strings, SVG charts and section flags."""
    lang = check_language(lang)
    _ = translations(lang).gettext
    fmt = Formatter(lang, data.currency)
    c = _Ctx(data, fmt, _, _labels(_))
    builders: dict[str, Callable[[_Ctx], dict[str, Any]]] = {
        "scorecard": _scorecard_section,
        "funnel": _funnel_section,
        "gap": _gap_section,
        "attribution": _attribution_section,
    }
    sections: dict[str, Any] = {}
    for key, build in builders.items():
        present = getattr(data, key) is not None and key not in data.unavailable
        sections[key] = build(c) if present else None
    return {
        "lang": lang,
        "css": _css(),
        "page_css": _page_css(_("Page")),
        "company": data.company,
        "period": data.period.label,
        "period_range": _("%(start)s to %(end)s")
        % {"start": fmt.date(data.period.start), "end": fmt.date(data.period.last_day)},
        "vs": _("plan") if data.vs_label == "plan" else data.vs_label,
        "generated": fmt.date(data.generated_at),
        "currency": data.currency,
        "section_keys": SECTIONS,
        "summary": summary_paragraph(data, lang),
        "unavailable": data.unavailable,
        "scorecard": sections["scorecard"],
        "funnel": sections["funnel"],
        "gap": sections["gap"],
        "attribution": sections["attribution"],
        "glossary": _glossary_section(c),
        "questions": questions(lang),
        "agenda": agenda_items(data, lang),
        "actions": _actions_section(c),
        "today": fmt.date(data.today),
    }


def render_html(data: PackData, lang: str | None = None) -> str:
    """The pack as one self-contained HTML page (inline CSS and SVG, no network), in
    ``lang`` (default: the language the results were collected for)."""
    ctx = context(data, lang or data.lang)
    return _env(ctx["lang"]).get_template("pack.html.j2").render(**ctx)


def render_pdf(html: str) -> bytes:
    """The pack's HTML printed to PDF by WeasyPrint (title page, page numbers, charts kept
    whole). No URL is ever fetched: the pack is self-contained, and a reference to anything
    else (which the pack never makes) is dropped with a warning instead of being requested."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf = HTML(string=html, url_fetcher=_no_fetcher()).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def warm_up(pdf: bool = False) -> None:
    """Start what the first render of a process waits for: the chart engine and, with
    ``pdf``, WeasyPrint (its import, fonts and the pack's style sheet) on a one-line page.
    :func:`cueva.report.write_pack` runs this in a thread while the results are collected."""
    charts.warm_up()
    if pdf:
        render_pdf(f"<html><head><style>{_css()}</style></head><body><p>Cueva</p></body></html>")


def _no_fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses every URL."""

    def refuse(url: str, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"the meeting pack fetches nothing, not {url[:80]}")

    try:
        from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]
    except ImportError:  # WeasyPrint before the URLFetcher class: a plain function
        return refuse

    class Refuse(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            return refuse(url)

    return Refuse()


__all__ = [
    "agenda_items",
    "context",
    "questions",
    "render_html",
    "render_pdf",
    "summary_paragraph",
    "warm_up",
]
