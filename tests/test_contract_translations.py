"""The contract's own text in another report language (``translations``): validated with
located errors, falling back to the contract's text, and part of the signed terms."""

from __future__ import annotations

import pytest

from cueva.contract import parse_contract, starter_contract, terms_hash
from cueva.demo import demo_contract_text
from cueva.errors import ContractError

STARTER = starter_contract("Acme")
MQL_LABEL = "      label: Marketing Qualified Lead\n"


def _with(anchor: str, block: str, text: str = STARTER) -> str:
    assert text.count(anchor) == 1, anchor
    return text.replace(anchor, anchor + block, 1)


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if fragment in ln)


def test_translated_text_and_fallback_to_the_contracts_own() -> None:
    text = _with(
        MQL_LABEL,
        "      translations:\n        es: {label: Lead cualificado por marketing}\n",
    )
    text = _with(
        "    description: Marketing delivers at least 100 MQLs a month.\n",
        "    translations:\n      es:\n        label: Volumen de MQL\n"
        "        description: Marketing entrega al menos 100 MQL al mes.\n",
        text,
    )
    text = _with(
        "    definition: Amount of deals won in the period.\n",
        "    translations: {es: {definition: Importe de las ventas ganadas en el periodo.}}\n",
        text,
    )
    c = parse_contract(text)
    mql = c.funnel.stage("mql")
    assert mql.label_in("es") == "Lead cualificado por marketing"
    assert mql.label_in("en") == "Marketing Qualified Lead"
    assert mql.label_in(None) == "Marketing Qualified Lead"
    # description not translated: the contract's own text, not a blank or a message id
    assert mql.description_in("es") == mql.description
    lead = c.funnel.stage("lead")
    assert lead.label_in("es") == "Lead" and lead.description_in("es") == lead.description
    sla = c.service_level("mql_volume")
    assert sla.label_in("es") == "Volumen de MQL"
    assert sla.label_in("en") == "mql_volume"  # no English label: the name
    assert sla.description_in("es") == "Marketing entrega al menos 100 MQL al mes."
    revenue = next(t for t in c.glossary if t.name == "revenue")
    assert revenue.definition_in("es") == "Importe de las ventas ganadas en el periodo."
    assert revenue.label_in("es") == "revenue"  # only the definition was translated
    assert revenue.definition_in("en") == "Amount of deals won in the period."


def test_translations_are_signed_terms_but_absent_ones_change_nothing() -> None:
    plain = parse_contract(STARTER)
    empty = parse_contract(_with(MQL_LABEL, "      translations: {}\n"))
    assert terms_hash(empty) == terms_hash(plain)
    spanish = parse_contract(_with(MQL_LABEL, "      translations: {es: {label: MQL}}\n"))
    other = parse_contract(_with(MQL_LABEL, "      translations: {es: {label: Lead MQL}}\n"))
    assert len({terms_hash(plain), terms_hash(spanish), terms_hash(other)}) == 3


@pytest.mark.parametrize(
    ("block", "path", "fragments"),
    [
        (
            "      translations:\n        de: {label: Marketing-Lead}\n",
            "funnel.stages.1.translations.de",
            ("'de' is not one of: en, es",),
        ),
        (
            "      translations:\n        es: {labl: MQL}\n",
            "funnel.stages.1.translations.es.labl",
            ("unknown key", "did you mean 'label'?"),
        ),
        (
            "      translations:\n        es: {definition: MQL}\n",
            "funnel.stages.1.translations.es.definition",
            ("unknown key", "did you mean 'description'?"),
        ),
        (
            "      translations:\n        es: {label: '   '}\n",
            "funnel.stages.1.translations.es.label",
            ("must not be blank",),
        ),
        (
            "      translations:\n        es: {}\n",
            "funnel.stages.1.translations.es",
            ("needs 'label' or 'description'",),
        ),
        (
            "      translations:\n        es: Lead cualificado\n",
            "funnel.stages.1.translations.es",
            ("valid dictionary",),
        ),
    ],
)
def test_bad_translations_are_located(block: str, path: str, fragments: tuple[str, ...]) -> None:
    text = _with(MQL_LABEL, block)
    with pytest.raises(ContractError) as info:
        parse_contract(text)
    message = str(info.value)
    # every block puts the language key two lines under the stage's label
    line = _line_of(text, MQL_LABEL.strip()) + 2
    located = [ln for ln in message.splitlines() if f"line {line}, {path}:" in ln]
    assert located, message
    for fragment in fragments:
        assert fragment in located[0], message
    assert "[key]" not in message


def test_glossary_and_service_level_translations_are_checked_too() -> None:
    text = _with(
        "    definition: Amount of deals won in the period.\n",
        "    translations: {es: {description: Importe}}\n",
    )
    with pytest.raises(ContractError, match=r"glossary\.0\.translations\.es\.description: "
                       r"unknown key; did you mean 'definition'\?"):  # fmt: skip
        parse_contract(text)
    text = _with(
        "    description: Marketing delivers at least 100 MQLs a month.\n",
        "    translations: {en: {label: ''}}\n",
    )
    with pytest.raises(ContractError, match=r"service_levels\.0\.translations\.en\.label: "):
        parse_contract(text)


def test_the_demo_contract_speaks_spanish_everywhere() -> None:
    c = parse_contract(demo_contract_text())
    items = [*c.funnel.stages, *c.service_levels, *c.glossary]
    for item in items:
        assert "es" in item.translations, item.name
    for stage in c.funnel.stages:
        assert stage.translations["es"].label and stage.translations["es"].description
    for sla in c.service_levels:
        assert sla.translations["es"].label and sla.translations["es"].description
    for term in c.glossary:
        assert term.translations["es"].label and term.translations["es"].definition
    assert c.funnel.stage("mql").label_in("es") == "Lead cualificado por marketing (MQL)"
