"""The plain-language summary of a gap, in the report language, generated from the numbers.

No free text: every sentence is a template filled with values of the :class:`GapResult`.
"""

from __future__ import annotations

import math

import numpy as np

from cueva.gap.decompose import GapResult

#: A factor whose contribution is below this share of the base counts as "on plan".
STEADY_SHARE = 0.005

_T: dict[str, dict[str, str]] = {
    "en": {
        "revenue": "Revenue was",
        "gross_margin": "Gross margin was",
        "pipeline": "Pipeline created was",
        "count": "The {stage} count was",
        "below": "{metric} {gap} below {base} ({actual} against {base_value}).",
        "above": "{metric} {gap} above {base} ({actual} against {base_value}).",
        "equal": "{metric} exactly {base_value}, as {base}.",
        "plan": "plan",
        "period": "{label}",
        "steady_plan": "{labels} {verb} on plan",
        "steady_period": "{labels} {verb} unchanged",
        "was": "was",
        "were": "were",
        "rose": "{label} rose from {b} to {a} ({c}, {owner})",
        "fell": "{label} fell from {b} to {a} ({c}, {owner})",
        "moved": "{label} shifted ({c}, {owner})",
        "within": "{label} went from {b} to {a} overall but {way} within each {by} ({c}, {owner})",
        "up": "rose",
        "down": "fell",
        "and": " and ",
        "segment": "The largest change by {by}: {segment} ({c}), mostly {label}.",
        "caveat": "Rates are within the period (entries into a stage over entries into the "
        "stage before, in the same period), so they mix cohorts: some of this period's MQLs "
        "come from last period's leads. The cohort variant (--cohort) counts each stage "
        "after the plan's lags instead.",
        "caveat_cohort": "Cohort variant: each stage is counted after the cumulative median "
        "lag from the lead stage ({lags}), so the rates follow one cohort.",
        "incomplete": "The last {days} days of the later stages' windows are after the data "
        "ends, so those cohorts are not complete yet.",
        "marketing": "marketing",
        "sales": "sales",
        "shared": "shared",
    },
    "es": {
        "revenue": "Los ingresos quedaron",
        "gross_margin": "El margen bruto quedó",
        "pipeline": "El pipeline creado quedó",
        "count": "El número de {stage} quedó",
        "below": "{metric} {gap} por debajo {base} ({actual} frente a {base_value}).",
        "above": "{metric} {gap} por encima {base} ({actual} frente a {base_value}).",
        "equal": "{metric} en {base_value}, igual que {base}.",
        "plan": "del plan",
        "period": "de {label}",
        "steady_plan": "{labels} {verb} en plan",
        "steady_period": "{labels} no {verb2}",
        "was": "estuvo",
        "were": "estuvieron",
        "rose": "{label} subió de {b} a {a} ({c}, {owner})",
        "fell": "{label} bajó de {b} a {a} ({c}, {owner})",
        "moved": "{label} cambió ({c}, {owner})",
        "within": "{label} pasó de {b} a {a} en total pero {way} dentro de cada {by} ({c}, {owner})",
        "up": "subió",
        "down": "bajó",
        "and": " y ",
        "segment": "El mayor cambio por {by}: {segment} ({c}), sobre todo {label}.",
        "caveat": "Las tasas son del periodo (entradas en una etapa sobre entradas en la "
        "anterior, en el mismo periodo), así que mezclan cohortes: parte de los MQL de este "
        "periodo vienen de leads del anterior. La variante por cohorte (--cohort) cuenta "
        "cada etapa tras los desfases del plan.",
        "caveat_cohort": "Variante por cohorte: cada etapa se cuenta tras el desfase mediano "
        "acumulado desde la etapa de lead ({lags}), así que las tasas siguen una cohorte.",
        "incomplete": "Los últimos {days} días de las ventanas de las etapas finales quedan "
        "después del fin de los datos: esas cohortes aún no están completas.",
        "marketing": "marketing",
        "sales": "ventas",
        "shared": "compartido",
    },
}


def _t(lang: str) -> dict[str, str]:
    return _T.get(lang, _T["en"])


def money(value: float, lang: str = "en", signed: bool = False) -> str:
    """1234567 -> 1.23M, 180000 -> 180k, 950 -> 950 (Spanish: decimal comma)."""
    sign = (
        ("+" if value > 0 else "-" if value < 0 else "") if signed else ("-" if value < 0 else "")
    )
    v = abs(value)
    if v >= 1e6:
        text = f"{v / 1e6:.2f}".rstrip("0").rstrip(".") + "M"
    elif v >= 1e3:
        text = f"{v / 1e3:.0f}k" if v >= 1e4 else f"{v / 1e3:.1f}".rstrip("0").rstrip(".") + "k"
    else:
        text = f"{v:.0f}"
    if lang == "es":
        text = text.replace(".", ",")
    return sign + text


def _value(kind: str, v: float, lang: str, precise: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if kind == "rate":
        text = f"{v:.0%}" if v >= 0.1 and not precise else f"{v:.1%}"
        return text.replace(".", ",") if lang == "es" else text
    if kind == "volume":
        text = f"{v:,.0f}"
        return text.replace(",", ".") if lang == "es" else text
    return money(v, lang)


def _kind(key: str) -> str:
    if key == "leads":
        return "volume"
    if key in ("deal_size", "opportunity_size"):
        return "money"
    if key == "mix":
        return "mix"
    return "rate"


def _join(items: list[str], lang: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + _t(lang)["and"] + items[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def summary(result: GapResult) -> str:
    """The result in two to four sentences, in ``result.language``."""
    lang = result.language
    t = _t(lang)
    is_plan = result.base_label == "plan"
    base_name = t["plan"] if is_plan else t["period"].format(label=result.base_label)
    metric = t[result.metric] if result.metric in t else t["count"].format(stage=result.metric)
    gap = result.gap
    scale = max(abs(result.base_total), abs(result.actual_total), 1.0)
    is_money = result.metric in ("revenue", "gross_margin", "pipeline")

    def amount(v: float, signed: bool = False) -> str:
        if is_money:
            return money(v, lang, signed)
        text = f"{v:+,.0f}" if signed else f"{v:,.0f}"
        return text.replace(",", ".") if lang == "es" else text

    fields = {
        "metric": metric,
        "gap": amount(abs(gap)),
        "base": base_name,
        "actual": amount(result.actual_total),
        "base_value": amount(result.base_total),
    }
    if abs(gap) <= 1e-9 * scale:
        head = t["equal"].format(**fields)
    else:
        head = t["below" if gap < 0 else "above"].format(**fields)

    steady: list[str] = []
    moves: list[str] = []
    f = result.factors.reindex(
        result.factors["contribution"].abs().sort_values(ascending=False).index
    )
    for row in f.to_dict(orient="records"):
        c = float(row["contribution"])
        owner = t.get(str(row["owner"]), str(row["owner"]))
        kind = _kind(str(row["factor"]))
        label = str(row["label"])
        if abs(c) < STEADY_SHARE * scale:
            steady.append(label)
            continue
        if kind == "mix":
            moves.append(t["moved"].format(label=label, c=amount(c, True), owner=owner))
            continue
        b, a = float(row["base"]), float(row["actual"])
        direction = "rose" if a > b else "fell"
        precise = _value(kind, a, lang) == _value(kind, b, lang)
        if np.isnan(a) or np.isnan(b):
            direction = "moved"
        elif (a - b) * c < 0 or a == b:
            # with segments the overall rate can move against the rates within segments
            # (a mix effect); say both rather than contradict the contribution's sign
            direction = "within"
        moves.append(
            t[direction].format(
                label=label,
                b=_value(kind, b, lang, precise),
                a=_value(kind, a, lang, precise),
                c=amount(c, True),
                owner=owner,
                way=t["up" if c > 0 else "down"],
                by=result.by or "segment",
            )
        )
    parts: list[str] = list(moves)
    if steady:
        order = list(result.factors["label"])
        steady.sort(key=order.index)  # funnel order
        verb = t["were"] if len(steady) > 1 else t["was"]
        key = "steady_plan" if is_plan else "steady_period"
        verb2 = "cambiaron" if len(steady) > 1 else "cambió"
        parts.append(t[key].format(labels=_join(steady, lang), verb=verb, verb2=verb2))
    body = "; ".join(parts)
    out = [head]
    if body:
        out.append(_cap(body) + ".")
    seg = result.segment_table()
    if not seg.empty and result.by:
        factor_cols = [c for c in seg.columns if c not in ("segment", "total")]
        totals = seg["total"].to_numpy(dtype=float)
        i = int(np.argmax(np.abs(totals)))
        contrib = dict(zip(factor_cols, seg[factor_cols].to_numpy(dtype=float)[i], strict=True))
        # a segment's lead volume is the total-volume effect plus its mix effect
        if "mix" in contrib and "leads" in contrib:
            contrib["leads"] += contrib.pop("mix")
        main = max(contrib, key=lambda k: abs(contrib[k]))
        labels = dict(zip(result.factors["factor"], result.factors["label"], strict=True))
        out.append(
            t["segment"].format(
                by=result.by,
                segment=seg["segment"].iloc[i],
                c=amount(float(totals[i]), True),
                label=labels[main],
            )
        )
    return " ".join(out)


def caveat(result: GapResult) -> str:
    """The cohort caveat for the output (or what the cohort variant did)."""
    t = _t(result.language)
    if result.cohort:
        lags = result.meta.get("shifts", {})
        text = ", ".join(f"{k} +{v:.0f}d" for k, v in lags.items() if v)
        out = t["caveat_cohort"].format(lags=text or "0d")
        days = int(result.meta.get("incomplete_days", 0) or 0)
        if days:
            out += " " + t["incomplete"].format(days=days)
        return out
    return t["caveat"]


__all__ = ["STEADY_SHARE", "caveat", "money", "summary"]
