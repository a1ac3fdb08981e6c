from __future__ import annotations

import re
from datetime import date

import pytest

from cueva.errors import UsageError
from cueva.i18n import LANGUAGES, Formatter, read_catalog, translations
from cueva.i18n.__main__ import extract, problems

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_catalogs_are_complete() -> None:
    # every message id used by the report's code and templates has a reviewed translation
    assert problems() == []


def test_extraction_finds_template_and_code_messages() -> None:
    ids = {m.id for m in extract() if m.id}
    assert "What are my blind spots?" in ids  # python (_render.py)
    assert "Joint meeting pack" in ids  # template
    assert ("overdue by %(num)s day", "overdue by %(num)s days") in ids  # ngettext
    from cueva.metrics.registry import METRICS

    # the registry's standard definitions, which the glossary shows when the contract has none
    assert {m.definition for m in METRICS.values()} <= ids


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_placeholders(lang: str) -> None:
    for m in read_catalog(lang):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for s in strings:
            assert set(PLACEHOLDER.findall(s)) == wanted, (lang, m.id, s)


def test_spanish_messages_are_translated() -> None:
    _ = translations("es").gettext
    assert _("What do you need from my team?") == "¿Qué necesitas de mi equipo?"
    assert _("Summary") == "Resumen"
    ngettext = translations("es").ngettext
    assert ngettext("overdue by %(num)s day", "overdue by %(num)s days", 1) % {"num": 1} == (
        "vencida hace 1 día"
    )
    assert ngettext("overdue by %(num)s day", "overdue by %(num)s days", 3) % {"num": 3} == (
        "vencida hace 3 días"
    )
    # an id missing from the catalog falls back to itself
    assert _("not a catalog message") == "not a catalog message"


def _plain(text: str) -> str:
    return text.replace("\u00a0", " ")


def test_spanish_formats() -> None:
    f = Formatter("es", "EUR")
    assert _plain(f.money(1234.5, digits=1)) == "1.234,5 €"
    assert _plain(f.money(1234567)) == "1.234.567 €"
    assert _plain(f.signed_money(-1500)) == "−1.500 €"
    assert f.number(1234.5, 1) == "1.234,5"
    assert _plain(f.percent(0.1234)) == "12,3 %"
    assert f.date(date(2026, 7, 15)) == "15 jul 2026"


def test_english_formats() -> None:
    f = Formatter("en", "EUR")
    assert f.money(1234.5, digits=1) == "€1,234.5"
    assert f.money(1234567) == "€1,234,567"
    assert f.signed_money(250) == "+€250"
    assert f.percent(0.1234) == "12.3%"
    assert f.date(date(2026, 7, 15)) == "Jul 15, 2026"
    assert Formatter("en", "USD").money(10) == "$10"


def test_missing_values_show_a_dash() -> None:
    f = Formatter("es", "EUR")
    for value in (None, float("nan"), float("inf")):
        assert f.number(value) == "—"
        assert f.percent(value) == "—"
        assert f.money(value) == "—"
    assert f.date(None) == "—"


def test_unknown_language_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown report language 'fr'"):
        Formatter("fr").number(1)
    with pytest.raises(UsageError):
        translations("fr")
