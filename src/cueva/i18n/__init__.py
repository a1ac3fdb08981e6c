"""Messages and formats in the report language (English and Spanish).

Text that a person reads in a report comes from gettext message catalogs: the sources are the
``.po`` files under ``cueva/locale/<lang>/LC_MESSAGES/cueva.po`` (committed, edited by
translators). They are compiled in memory the first time a language is used (Babel's
``read_po``/``write_mo``, a few milliseconds), so there is no binary ``.mo`` in git and no
build step; ``python -m cueva.i18n update`` re-extracts the message ids from the code and the
templates into ``cueva/locale/cueva.pot`` and merges them into each catalog.

Numbers, money, percentages and dates are formatted with Babel's CLDR data for the language:
``Formatter("es", "EUR").money(1234.5, digits=1)`` is ``1.234,5 €``; in English ``€1,234.5``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Literal

from babel import Locale
from babel.dates import format_date
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

from cueva.errors import UsageError

Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "es")
DOMAIN = "cueva"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

#: Shown where a value is missing (no data, division by zero).
MISSING = "—"


def check_language(lang: str) -> Language:
    if lang not in LANGUAGES:
        raise UsageError(f"unknown report language {lang!r}; use one of: {', '.join(LANGUAGES)}")
    return lang


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / check_language(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    """The ``.po`` catalog of ``lang`` as a Babel catalog."""
    with catalog_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


@cache
def translations(lang: str) -> Translations:
    """gettext translations for ``lang``, compiled in memory from its ``.po`` source.

    Fuzzy entries are left out (as ``msgfmt`` does), so an unreviewed translation falls back
    to the English message id instead of showing a guess.
    """
    catalog = read_catalog(lang)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


def gettext_for(lang: str) -> Callable[[str], str]:
    return translations(lang).gettext


# --------------------------------------------------------------------------- formats


def _with_fraction(pattern: str, digits: int) -> str:
    """A CLDR number pattern with exactly ``digits`` fraction digits."""
    head, sep, tail = pattern.partition(";")  # keep only the positive pattern
    del sep, tail
    int_end = head.rfind("0")
    int_start = head.find("#") if "#" in head else head.find("0")
    dot = head.find(".")
    core_end = int_end + 1
    if dot != -1:
        core_end = dot + 1
        while core_end < len(head) and head[core_end] in "0#":
            core_end += 1
    core = head[int_start:core_end].split(".")[0]
    frac = ("." + "0" * digits) if digits > 0 else ""
    return head[:int_start] + core + frac + head[core_end:]


@dataclass(frozen=True)
class Formatter:
    """Locale-aware formats for one report: numbers, money in ``currency``, percentages,
    dates. Missing values (None, NaN, infinite) become ``—``."""

    lang: str = "en"
    currency: str = "EUR"

    @property
    def locale(self) -> Locale:
        return _locale(self.lang)

    @staticmethod
    def _missing(value: float | int | None) -> bool:
        return value is None or not math.isfinite(value)

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None or self._missing(value):
            return MISSING
        pattern = _with_fraction(self.locale.decimal_formats[None].pattern, digits)
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float | None, digits: int = 1) -> str:
        """``value`` is a share (0.123 is 12.3 %)."""
        if value is None or self._missing(value):
            return MISSING
        pattern = _with_fraction(self.locale.percent_formats[None].pattern, digits)
        from babel.numbers import format_percent

        return format_percent(value, format=pattern, locale=self.locale)

    def points(self, value: float | None, digits: int = 1) -> str:
        """A difference of two shares in percentage points, with its sign (+2.5 pp)."""
        if self._missing(value):
            return MISSING
        assert value is not None
        sign = "+" if value > 0 else ""
        return f"{sign}{self.number(value * 100, digits)}\u00a0pp"

    def money(self, value: float | None, digits: int = 0, currency: str | None = None) -> str:
        if value is None or self._missing(value):
            return MISSING
        pattern = _with_fraction(self.locale.currency_formats["standard"].pattern, digits)
        return format_currency(
            value,
            currency or self.currency,
            format=pattern,
            locale=self.locale,
            currency_digits=False,
        )

    def signed_money(self, value: float | None, digits: int = 0) -> str:
        if self._missing(value):
            return MISSING
        assert value is not None
        text = self.money(abs(value), digits)
        return ("+" if value > 0 else "−" if value < 0 else "") + text

    def date(self, value: date | datetime | None, form: str = "medium") -> str:
        if value is None:
            return MISSING
        if isinstance(value, datetime):
            value = value.date()
        return format_date(value, format=form, locale=self.locale)


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(check_language(lang))


__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "MISSING",
    "Formatter",
    "Language",
    "catalog_path",
    "check_language",
    "gettext_for",
    "read_catalog",
    "translations",
]
