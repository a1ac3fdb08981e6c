"""Currency conversion of deal amounts with an ``fx_rates`` table, dated at close date.

A rate is how many units of ``currency`` one unit of the contract currency buys (the
convention of Salesforce's DatedConversionRate: EUR company, USD rate 1.08 means
1 EUR = 1.08 USD), so ``amount in contract currency = amount / rate``. The rate used for a
deal is the latest one dated on or before its close date (its creation date when it has
none).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import ibis

from cueva.errors import UsageError
from cueva.sources._core import Build, Raw, day, num

if TYPE_CHECKING:
    import ibis.expr.types as ir

FX_FILES = ("fx_rates", "datedconversionrate")


def find_rates_file(folder: Path) -> Path | None:
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() == ".csv" and p.stem.lower() in FX_FILES:
            return p
    return None


def read_rates(build: Build, path: Path) -> ir.Table:
    """The rates file as (currency, date, rate); a bad row is an error naming it."""
    raw = Raw(path.name, build.engine.read_csv(path, path.name))
    build.raws.append(raw)
    t = raw.t
    cur_raw = raw.col("currency", "IsoCode", "currency_code")
    date_raw = raw.col("date", "StartDate", "effective_date")
    rate_raw = raw.col("rate", "ConversionRate", "exchange_rate")
    rates = t.select(
        __row=t["__row"],
        currency=cur_raw.upper(),
        date=day(date_raw),
        rate=num(rate_raw),
        cur_raw=cur_raw,
        date_raw=date_raw,
        rate_raw=rate_raw,
    )
    rates = build.engine.materialize(rates, "fx")
    bad = rates.filter(
        rates.currency.isnull()
        | (rates.currency.length() != 3)
        | rates.date.isnull()
        | rates.rate.isnull()
        | (rates.rate <= 0)
    ).order_by("__row")
    first = build.engine.con.execute(bad.limit(1))
    if len(first):
        row = first.iloc[0]
        raise UsageError(
            f"{path.name} row {int(row['__row'])}: expected currency (3 letters), date "
            f"(YYYY-MM-DD) and a positive rate; got {row['cur_raw']!r}, {row['date_raw']!r}, "
            f"{row['rate_raw']!r}"
        )
    return rates.select("currency", "date", "rate")


def convert(build: Build, deals: ir.Table, rates: ir.Table | None) -> ir.Table:
    """``deals`` (id, currency, on_date, amount) with ``rate``, ``amount_converted`` and
    ``fx_missing`` (a rate was needed and none is dated on or before the deal's date)."""
    home = build.contract.currency
    cur = deals.currency
    counts = build.engine.con.execute(
        deals.group_by(cur=ibis.coalesce(cur, ibis.literal(home))).aggregate(n=deals.count())
    )
    build.currencies.update(
        {str(r.cur): int(r.n) for r in counts.sort_values("cur").itertuples(index=False)}
    )
    if rates is None:
        if any(c != home for c in build.currencies):
            build.notes.append(
                "no fx_rates file: amounts are kept in their own currency "
                f"(add fx_rates.csv to convert them to {home})"
            )
        out = deals.mutate(
            rate=ibis.null("float64"), amount_converted=deals.amount, fx_missing=False
        )
        return build.engine.materialize(out, "fx")
    foreign = deals.filter(deals.currency.notnull() & (deals.currency != home))
    joined = foreign.asof_join(
        rates, on=foreign.on_date >= rates.date, predicates=foreign.currency == rates.currency
    )
    matched = joined.select(id=joined.id, rate=joined.rate, rate_date=joined.date)
    matched = build.engine.materialize(matched, "fx")
    out = deals.left_join(matched, deals.id == matched.id).select(
        *[deals[c] for c in deals.columns],
        rate=matched.rate,
        rate_date=matched.rate_date,
    )
    out = out.mutate(
        amount_converted=ibis.ifelse(
            out.currency.isnull() | (out.currency == home), out.amount, out.amount / out.rate
        )
    )
    out = build.engine.materialize(out, "fx")
    conv = out.filter(out.rate.notnull())
    used = build.engine.con.execute(
        conv.group_by("currency")
        .aggregate(
            rows=conv.count(),
            rates=conv.rate_date.nunique(),
            first=conv.rate_date.min(),
            last=conv.rate_date.max(),
        )
        .order_by("currency")
    )
    for r in used.itertuples(index=False):
        build.fx_rates.append(
            {
                "currency": str(r.currency),
                "to": home,
                "rows": int(r.rows),
                "rates": int(r.rates),
                "first": str(r.first)[:10],
                "last": str(r.last)[:10],
            }
        )
    out = out.mutate(fx_missing=out.currency.notnull() & (out.currency != home) & out.rate.isnull())
    return build.engine.materialize(out, "fx")


__all__ = ["FX_FILES", "convert", "find_rates_file", "read_rates"]
