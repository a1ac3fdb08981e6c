"""The meeting pack on the demo company (small scale), in English and Spanish: sections and
their order, numbers equal to the metric functions' results, no untranslated text, escaping,
and the PDF (page count, page numbers, text) read back with pypdf."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pypdf
import pytest

from cueva.actions import add_action, contract_teams
from cueva.attribution import attribute_store
from cueva.cli import main
from cueva.demo import create_demo
from cueva.gap.run import gap_report, load_plan, make_plan, plan_counts, save_plan
from cueva.i18n import Formatter, read_catalog, translations
from cueva.metrics.funnel import funnel_report
from cueva.periods import quarter
from cueva.report import (
    SECTIONS,
    PackData,
    collect_pack,
    render_html,
    render_pdf,
    summary_paragraph,
)
from cueva.report._data import NOT_COMPUTED
from cueva.sla import scorecard
from cueva.workspace import Workspace
from tests.conftest import CliResult, invoke

PERIOD, VS = "2026-Q2", "2026-Q1"
TODAY = date(2026, 7, 20)


SERVICE_LEVELS = """
service_levels:
  - name: mql_volume
    kind: volume
    giver: marketing
    receiver: sales
    description: Marketing delivers at least 400 MQLs a quarter.
    target: 400
    period: quarter
  - name: mql_acceptance
    kind: quality
    giver: marketing
    receiver: sales
    description: At least 50% of MQLs are accepted by sales within 14 days.
    within_days: 14
    target: 50%
    period: quarter
  - name: response_time
    kind: response_time
    giver: sales
    receiver: marketing
    description: Sales makes the first human contact within 4 business hours of the MQL.
    within_hours: 4
    target: 90%
    period: quarter
"""


@dataclass
class Section:
    text: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    row_classes: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


class PackParser(HTMLParser):
    """Visible text, table rows and list items per ``data-section`` (SVG and CSS skipped)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, Section] = {}
        self.order: list[str] = []
        self.current: Section | None = None
        self.skip = 0
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.item: list[str] | None = None
        self.all_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("svg", "style"):
            self.skip += 1
        if tag == "section" and a.get("data-section"):
            key = str(a["data-section"])
            self.order.append(key)
            self.current = self.sections.setdefault(key, Section())
        if self.current is None:
            return
        if tag == "tr":
            self.row = []
            self.current.row_classes.append(a.get("class") or "")
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "li":
            self.item = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("svg", "style"):
            self.skip -= 1
        if self.current is None:
            return
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.current.rows.append(self.row)
            self.row = None
        elif tag == "li" and self.item is not None:
            self.current.items.append(" ".join("".join(self.item).split()))
            self.item = None
        elif tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.all_text.append(data)
        if self.current is not None:
            self.current.text.append(data)
        for buf in (self.cell, self.item):
            if buf is not None:
                buf.append(data)


def parse(html: str) -> PackParser:
    p = PackParser()
    p.feed(html)
    return p


def N(text: str) -> str:
    """Whitespace-normalised text (no-break spaces from the locale formats become spaces)."""
    return " ".join(str(text).split())


def text_of(p: PackParser, key: str) -> str:
    return " ".join(" ".join(p.sections[key].text).split())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pack") / "demo"
    create_demo(path, seed=7, scale="small")
    with Workspace.open(path) as ws:
        has_slas = bool(ws.contract.service_levels)
    if not has_slas:  # the pack shows the contract's service levels; give the demo some
        with (path / "cueva.yaml").open("a", encoding="utf-8") as fh:
            fh.write(SERVICE_LEVELS)
    with Workspace.open(path) as ws:
        teams = contract_teams(ws.contract)
        for text, team, owner, due in (
            ("Call back every MQL within 4 business hours", "sales", "Ana", "2026-07-15"),
            ("Send the webinar leads with their scores", "marketing", "Luis", "2026-09-30"),
        ):
            add_action(ws.store(), text, team=team, owner=owner, due=due, teams=teams)
    return path


@pytest.fixture(scope="module")
def packs(demo: Path) -> dict[str, tuple[PackData, str]]:
    out = {}
    with Workspace.open(demo) as ws:
        for lang in ("en", "es"):
            data = collect_pack(ws, PERIOD, vs=VS, lang=lang, today=TODAY)
            out[lang] = (data, render_html(data))
    return out


@pytest.fixture(scope="module")
def reference(demo: Path) -> Iterator[dict[str, object]]:
    """The metric functions' own results, called directly."""
    with Workspace.open(demo) as ws:
        store, contract = ws.store(), ws.contract
        yield {
            "contract": contract,
            "scorecard": scorecard(store, contract, quarter(2026, 2)),
            "attribution": attribute_store(
                store, contract, start=quarter(2026, 2).start_dt, end=quarter(2026, 2).end_dt
            ),
            "funnel": funnel_report(store, contract, quarter(2026, 2)),
            "funnel_vs": funnel_report(store, contract, quarter(2026, 1)),
            "gap": {
                lang: gap_report(
                    store, contract, quarter(2026, 2), vs=quarter(2026, 1), language=lang
                )
                for lang in ("en", "es")
            },
        }


LANGS = pytest.mark.parametrize("lang", ["en", "es"])


@LANGS
def test_every_section_in_order(packs: dict[str, tuple[PackData, str]], lang: str) -> None:
    p = parse(packs[lang][1])
    assert p.order == list(SECTIONS)
    assert p.order == [
        "summary", "scorecard", "funnel", "gap", "attribution", "glossary", "agenda", "actions",
    ]  # fmt: skip


@LANGS
def test_funnel_numbers_are_the_metric_results(
    packs: dict[str, tuple[PackData, str]], reference: dict, lang: str
) -> None:
    fmt = Formatter(lang, "EUR")
    p = parse(packs[lang][1])
    rows = {r[0]: r for r in p.sections["funnel"].rows[1:] if len(r) == 7}
    stages = reference["funnel"]["stages"]
    before = reference["funnel_vs"]["stages"].set_index("stage")
    assert len(rows) == len(stages) == 5
    contract = reference["contract"]
    for _i, s in stages.iterrows():
        # the contract's label in the pack's language (its translation, else its own text)
        row = rows[contract.funnel.stage(s["stage"]).label_in(lang)]
        assert row[2] == N(fmt.number(s["entered"]))
        assert row[3] == N(fmt.number(before.loc[s["stage"], "entered"]))
        if isinstance(s["next_stage"], str):
            assert row[4] == N(fmt.percent(s["conversion_period"]))
            assert row[5] == N(fmt.percent(s["conversion_cohort"]))
            assert row[6] == N(fmt.number(s["median_days"], 1))
    deals = reference["funnel"]["deals"].iloc[0]
    deal_rows = [r for r in p.sections["funnel"].rows if len(r) == 3]
    values = {r[1] for r in deal_rows}
    assert N(fmt.percent(deals["win_rate"])) in values
    assert N(fmt.money(deals["won_amount"])) in values


@LANGS
def test_scorecard_is_the_sla_results_breaches_first(
    packs: dict[str, tuple[PackData, str]], reference: dict, lang: str
) -> None:
    fmt = Formatter(lang, "EUR")
    ref = reference["scorecard"]
    assert len(ref) >= 1
    rows = parse(packs[lang][1]).sections["scorecard"].rows[1:]
    assert len(rows) == len(ref)
    rank = {"missed": 0, "at risk": 1, "on track": 2, "met": 3}
    expected = ref.assign(_r=ref["status"].map(rank).fillna(4)).sort_values("_r", kind="stable")
    status_words = {
        "en": {"met": "met", "missed": "missed", "at risk": "at risk", "on track": "on track"},
        "es": {"met": "cumplido", "missed": "incumplido", "at risk": "en riesgo",
               "on track": "en camino"},
    }[lang]  # fmt: skip
    contract = reference["contract"]
    for row, (_i, r) in zip(rows, expected.iterrows(), strict=True):
        sla = contract.service_level(r["service_level"])
        assert row[0] == f"{sla.label_in(lang)}{sla.description_in(lang)}"  # name<br>promise
        share = r["kind"] in ("quality", "response_time", "coverage", "feedback", "win_rate")
        money = r["kind"] in ("pipeline_created", "revenue")
        show = fmt.percent if share else fmt.money if money else fmt.number
        assert row[3] == N(show(r["target"]))
        assert row[4] == N(show(r["actual"]))
        assert row[5].endswith(status_words.get(r["status"], r["status"]))
    summary = text_of(parse(packs[lang][1]), "summary")
    missed = int((ref["status"] == "missed").sum())
    es_verb = "incumplió" if missed == 1 else "incumplieron"
    assert {
        "en": f"{missed} of {len(ref)} service levels {'was' if missed == 1 else 'were'} missed",
        "es": f"Se {es_verb} {missed} de {len(ref)} niveles de servicio",
    }[lang] in summary


@LANGS
def test_gap_and_summary_are_the_gap_results(
    packs: dict[str, tuple[PackData, str]], reference: dict, lang: str
) -> None:
    fmt = Formatter(lang, "EUR")
    result = reference["gap"][lang]
    p = parse(packs[lang][1])
    rows = [r for r in p.sections["gap"].rows[1:] if len(r) == 5]
    assert [r[4] for r in rows] == [N(fmt.signed_money(c)) for c in result.factors["contribution"]]
    owners = {"en": {}, "es": {"sales": "ventas", "shared": "compartido"}}[lang]
    assert [r[1] for r in rows] == [owners.get(o, o) for o in result.factors["owner"]]
    summary = text_of(p, "summary")
    assert N(fmt.money(result.actual_total)) in summary
    assert N(fmt.money(result.base_total)) in summary
    assert N(fmt.money(abs(result.gap))) in summary
    top = result.factors.reindex(result.factors["contribution"].abs().sort_values().index[::-1])
    for c in top["contribution"][:2]:
        assert N(fmt.signed_money(c)) in summary
    word = {"en": "below", "es": "por debajo"}[lang]
    assert (word in summary) == (result.gap < 0)
    # the segment breakdown adds up per segment, as the gap analysis says
    seg_rows = [r for r in p.sections["gap"].rows if len(r) > 5]
    assert len(seg_rows) > 2  # header and channels


@LANGS
def test_attribution_is_the_attribution_result(
    packs: dict[str, tuple[PackData, str]], reference: dict, lang: str
) -> None:
    fmt = Formatter(lang, "EUR")
    result = reference["attribution"]
    model = result.meta["models"][0]
    credits = result.credits[result.credits["model"] == model]
    sec = parse(packs[lang][1]).sections["attribution"]
    rows = [r for r in sec.rows if len(r) == 6][1:]
    assert [r[0] for r in rows] == list(credits["channel"])
    for row, (_i, c) in zip(rows, credits.iterrows(), strict=True):
        assert row[1] == N(fmt.money(c["pipeline"]))
        assert row[2] == N(fmt.money(c["revenue"]))
        assert row[3] == N(fmt.money(c["gross_margin"]))
        assert row[4] == N(fmt.money(c["spend"]))
        assert row[5] == N(fmt.percent(c["roi"], 0))
    pipeline = result.summary.set_index("measure").loc["pipeline"]
    shares = [r for r in sec.rows if len(r) == 3][1:]
    assert shares[0][1] == N(fmt.money(pipeline["marketing_sourced"]))
    assert shares[0][2] == N(fmt.percent(pipeline["marketing_sourced"] / pipeline["total"]))
    assert shares[1][1] == N(fmt.money(pipeline["marketing_influenced"]))
    assert model in text_of(parse(packs[lang][1]), "attribution")


def test_spanish_pack_has_no_untranslated_message_ids(
    packs: dict[str, tuple[PackData, str]], demo: Path
) -> None:
    p = parse(packs["es"][1])
    text = " ".join(" ".join(p.all_text).split())
    # the contract's own words (written by the company, in its language) are not messages
    contract = Workspace.open(demo).contract
    for own in (
        *(sl.description for sl in contract.service_levels),
        *(t.definition for t in contract.glossary),
        *(st.description for st in contract.funnel.stages),
    ):
        text = text.replace(" ".join(own.split()), "")
    leaks = []
    for m in read_catalog("es"):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for mid in ids:
            if mid in strings:
                continue  # same word in both languages (Plan, ROI, marketing, ...)
            for fragment in re.split(r"%\(\w+\)s", mid):
                fragment = fragment.strip(" .,:;()")
                if len(fragment) >= 12 and fragment in text:
                    leaks.append(fragment)
    assert leaks == []
    headings = [r for r in re.findall(r"<h2>\d\. ([^<]+)</h2>", packs["es"][1])]
    assert headings == [
        "Resumen", "Niveles de servicio", "Embudo", "Análisis de la desviación", "Atribución",
        "Glosario", "Orden del día", "Acciones acordadas",
    ]  # fmt: skip


@LANGS
def test_agenda_questions_and_items(
    packs: dict[str, tuple[PackData, str]], reference: dict, lang: str
) -> None:
    data, html = packs[lang]
    items = parse(html).sections["agenda"].items
    questions = {
        "en": [
            "What do you need from my team?",
            "What pressures are you under?",
            "What am I doing that helps you?",
            "What do you think I undervalue or dismiss?",
            "What are my blind spots?",
        ],
        "es": [
            "¿Qué necesitas de mi equipo?",
            "¿Bajo qué presiones trabajas?",
            "¿Qué hago yo que te ayude?",
            "¿Qué crees que infravaloro o descarto?",
            "¿Cuáles son mis puntos ciegos?",
        ],
    }[lang]
    assert items[:5] == questions
    result = reference["gap"][lang]
    big = result.factors[result.factors["contribution"].abs() >= 0.05 * result.base_total]
    missed = 0 if data.scorecard is None else int((data.scorecard["status"] == "missed").sum())
    assert len(items) == 5 + missed + len(big)
    fmt = Formatter(lang, "EUR")
    for c in big["contribution"]:
        assert any(N(fmt.signed_money(c)) in item for item in items[5:])


@LANGS
def test_overdue_actions_stand_out(packs: dict[str, tuple[PackData, str]], lang: str) -> None:
    sec = parse(packs[lang][1]).sections["actions"]
    body = list(zip(sec.row_classes[1:], sec.rows[1:], strict=True))
    assert [r[5] for _c, r in body] == [
        "Call back every MQL within 4 business hours",
        "Send the webinar leads with their scores",
    ]
    (cls1, row1), (cls2, row2) = body
    assert cls1 == "overdue" and cls2 == ""
    assert row1[4] == {"en": "overdue by 5 days", "es": "vencida hace 5 días"}[lang]
    assert row2[4] == {"en": "open", "es": "abierta"}[lang]
    assert "cueva actions add" in text_of(parse(packs[lang][1]), "actions")


@LANGS
def test_unavailable_sections_say_so_and_show_no_numbers(
    packs: dict[str, tuple[PackData, str]], lang: str
) -> None:
    data, html = packs[lang]
    p = parse(html)
    for key in SECTIONS:
        note = f'data-unavailable="{key}"' in html
        assert note == (key in data.unavailable), key
        if key in data.unavailable:
            assert p.sections[key].rows == []
            if data.unavailable[key] == NOT_COMPUTED:
                word = {"en": "does not compute", "es": "aún no calcula"}[lang]
                assert word in text_of(p, key)


def test_glossary_defines_what_is_shown(packs: dict[str, tuple[PackData, str]], demo: Path) -> None:
    data, html = packs["en"]
    text = text_of(parse(html), "glossary")
    contract = Workspace.open(demo).contract
    for stage in contract.funnel.stages:
        assert stage.description in text
    assert data.glossary is not None and len(data.glossary) >= len(contract.funnel.stages)
    assert "win_rate" in set(data.glossary["name"])


def hostile_pack() -> PackData:
    evil = '<script>alert("x")</script>'
    period = quarter(2026, 2)
    funnel = pd.DataFrame(
        {
            "stage": ["lead", "won"],
            "label": [evil, "Won & <b>done</b>"],
            "owner": ["marketing", "sales"],
            "entered": [100, 10],
            "next_stage": ["won", None],
            "conversion_period": [0.1, None],
            "conversion_cohort": [0.1, None],
            "median_days": [12.5, None],
        }
    )
    return PackData(
        company=evil,
        period=period,
        vs_label="plan",
        currency="EUR",
        today=TODAY,
        generated_at=pd.Timestamp("2026-07-01").to_pydatetime(),
        funnel=funnel,
        scorecard=pd.DataFrame(
            {
                "name": [evil],
                "kind": ["volume"],
                "giver": ["marketing"],
                "receiver": [evil],
                "target": [100.0],
                "actual": [80.0],
                "unit": ["count"],
                "status": ["missed"],
                "trend": [[70.0, 90.0, 80.0]],
            }
        ),
        gap=pd.DataFrame(
            {
                "factor": ["leads"],
                "label": [evil],
                "owner": [evil],
                "base": [10.0],
                "actual": [8.0],
                "contribution": [-2000.0],
                "unit": ["count"],
            }
        ),
        revenue_base=10000.0,
        revenue_actual=8000.0,
        gap_segments=pd.DataFrame({"segment": [evil], "leads": [-2000.0], "total": [-2000.0]}),
        gap_segment_by=evil,
        attribution=pd.DataFrame(
            {
                "channel": [evil, "paid_search"],
                "pipeline": [1000.0, 500.0],
                "revenue": [300.0, 200.0],
                "margin": [100.0, 50.0],
                "spend": [50.0, 80.0],
                "roi": [5.0, 1.5],
            }
        ),
        attribution_model=evil,
        glossary=pd.DataFrame(
            {"name": [evil], "definition": [evil], "owner": ["sales"], "source": ["contract"]}
        ),
        actions=pd.DataFrame(
            {
                "id": [1],
                "team": ["sales"],
                "owner": [evil],
                "due": [date(2026, 7, 1)],
                "status": ["open"],
                "overdue": [True],
                "days_overdue": [19],
                "text": [evil],
            }
        ),
    )


@LANGS
def test_crm_names_are_escaped_everywhere(lang: str) -> None:
    html = render_html(hostile_pack(), lang)
    assert "<script" not in html.lower()
    assert "<b>done</b>" not in html
    assert html.count("&lt;script&gt;") >= 10  # table cells, headings, chart labels (SVG)
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 4  # sparkline, funnel, waterfall, attribution
    assert any("&lt;script&gt;" in s for s in svgs)
    # self-contained: nothing to fetch
    assert not re.search(r'<(link|img|script|iframe)\b|@import|url\((?!#)|src="', html)
    assert not re.search(r'href="(?!#)', html)


def test_css_strings_cannot_break_out() -> None:
    from cueva.report._render import css_string

    assert css_string('Página "1"</style>') == "Página \\22 1\\22 \\3C /style\\3E "


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    return functools.partial(invoke, capsys)


PLAN_REVENUE = 1_500_000.0


@pytest.fixture(scope="module")
def pdf_pack(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The pack in Spanish against a saved plan, written by the CLI with its PDF."""
    with Workspace.open(demo) as ws:
        plan = make_plan(ws.store(), ws.contract, quarter(2026, 2), "revenue", PLAN_REVENUE)
        save_plan(ws, plan)
    out = tmp_path_factory.mktemp("out") / "pack.html"
    try:
        main(["report", str(demo), "--period", PERIOD, "--vs", "plan", "--lang", "es",
              "--out", str(out), "--pdf"])  # fmt: skip
    except SystemExit as exc:
        assert not exc.code
    return out, out.with_suffix(".pdf")


def test_cli_writes_html_and_pdf(pdf_pack: tuple[Path, Path]) -> None:
    html, pdf = pdf_pack
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_pack_against_the_saved_plan(pdf_pack: tuple[Path, Path], demo: Path) -> None:
    fmt = Formatter("es", "EUR")
    p = parse(pdf_pack[0].read_text(encoding="utf-8"))
    with Workspace.open(demo) as ws:
        counts = plan_counts(load_plan(demo, PERIOD), ws.contract, None).iloc[0]
        result = gap_report(
            ws.store(), ws.contract, quarter(2026, 2), plan=load_plan(demo, PERIOD), language="es"
        )
        stages = ws.contract.funnel.stages
    header = p.sections["funnel"].rows[0]
    assert header[2:5] == ["2026-Q2", "Plan", "2026-Q1"]
    rows = {r[0]: r for r in p.sections["funnel"].rows[1:] if len(r) == 8}
    for st in stages:
        assert rows[st.label_in("es")][3] == N(fmt.number(counts[st.name]))
    summary = text_of(p, "summary")
    assert N(fmt.money(result.base_total)) in summary and "del plan" in summary
    assert abs(result.base_total - PLAN_REVENUE) < 0.01 * PLAN_REVENUE


def test_pdf_pages_numbers_and_text(pdf_pack: tuple[Path, Path]) -> None:
    reader = pypdf.PdfReader(pdf_pack[1])
    n = len(reader.pages)
    assert 4 <= n <= 20
    pages = [" ".join((pg.extract_text() or "").split()) for pg in reader.pages]
    title = pages[0]
    assert "DOSIER DE LA REUNIÓN CONJUNTA" in title.upper()
    assert "Altamira Cloud S.L." in title and "2026-Q2" in title
    assert "Página" not in title  # the title page has no number
    for i, page in enumerate(pages[1:], start=2):
        assert f"Página {i} / {n}" in page
    text = " ".join(pages)
    for heading in ("1. Resumen", "3. Embudo", "4. Análisis de la desviación", "7. Orden del día"):
        assert heading in text
    assert "¿Cuáles son mis puntos ciegos?" in text
    assert "vencida hace" in text


def test_pdf_keeps_every_chart_whole(packs: dict[str, tuple[PackData, str]]) -> None:
    """Each inline SVG is laid out once, on one page (a chart is never cut)."""
    from weasyprint import HTML

    html = packs["en"][1]
    doc = HTML(string=html).render()
    svgs = figures = 0
    for page in doc.pages:
        for box in page._page_box.descendants():
            tag = str(getattr(box, "element_tag", ""))
            svgs += tag.endswith("}svg") and type(box).__name__ == "InlineReplacedBox"
            # a figure cut by a page break would have a box on each of two pages
            figures += tag == "figure" and type(box).__name__ == "BlockBox"
    n_figures = len(re.findall(r"<figure\b", html))
    assert figures == n_figures > 0
    assert svgs >= n_figures  # each figure's chart was laid out
    assert render_pdf(html).startswith(b"%PDF-")


def test_cli_errors_are_one_line(demo: Path, tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    r = cli("report", str(demo), "--period", "2026-Q5", "--out", str(tmp_path / "p.html"))
    assert r.code == 1
    assert r.err.strip().startswith("error: not a period: '2026-Q5'")
    assert "Traceback" not in r.err
    r = cli(
        "report", str(demo), "--period", PERIOD, "--lang", "fr", "--out", str(tmp_path / "p.html")
    )
    assert r.code == 1 and "unknown report language 'fr'" in r.err
    r = cli("report", str(demo), "--period", PERIOD, "--out", str(tmp_path / "p.pdf"))
    assert r.code == 1 and "must name an .html file" in r.err
    assert not (tmp_path / "p.html").exists()


def test_adjacent_periods_share_one_funnel_pass() -> None:
    from cueva.periods import month, parse_period
    from cueva.report._collect import _adjacent_buckets

    span, grain = _adjacent_buckets(quarter(2026, 2), quarter(2026, 1), 1) or (None, None)
    assert grain == "quarter" and span is not None
    assert (span.start, span.end) == (date(2026, 1, 1), date(2026, 7, 1))
    assert _adjacent_buckets(month(2026, 5), month(2026, 4), 7) is not None
    # not adjacent, not the same kind, or fiscal quarters: two separate calls
    assert _adjacent_buckets(quarter(2026, 2), quarter(2025, 2), 1) is None
    assert _adjacent_buckets(quarter(2026, 2), month(2026, 3), 1) is None
    assert _adjacent_buckets(quarter(2026, 2), quarter(2026, 1), 4) is None
    assert _adjacent_buckets(parse_period("2026-W10"), parse_period("2026-W09"), 1) is None


def test_pdf_printing_fetches_nothing() -> None:
    """Even a hostile page that points at a server gets no request out of the PDF printer."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        html = (
            f'<html><head><link rel="stylesheet" href="{url}/a.css"></head><body>'
            f'<img src="{url}/b.png"><p style="background: url({url}/c.png)">x</p></body></html>'
        )
        assert render_pdf(html).startswith(b"%PDF-")
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


def test_summary_of_an_empty_quarter_names_no_reasons() -> None:
    data = hostile_pack()
    data.company = "Empty Co"
    data.gap = data.gap.assign(contribution=[0.0])  # type: ignore[union-attr]
    data.revenue_base = data.revenue_actual = 0.0
    data.deals = pd.DataFrame({"won": [0], "win_rate": [float("nan")], "won_amount": [0.0]})
    data.scorecard = data.scorecard.assign(status=["no data"])  # type: ignore[union-attr]
    text = N(summary_paragraph(data, "es"))
    assert "causa" not in text  # no factor moved anything
    assert "No se cerró ninguna operación." in text
    assert "Se incumplieron 0 de 1 niveles de servicio." in text
    assert (
        "Los ingresos de nuevo negocio de 2026-Q2 fueron 0 €, en línea con el plan (0 €)." in text
    )


def test_spanish_pack_shows_the_contracts_spanish_text(
    packs: dict[str, tuple[PackData, str]], demo: Path
) -> None:
    """The demo contract carries Spanish translations of its own text: the Spanish pack shows
    them (stage labels, service levels, glossary), the English pack the text as written."""
    contract = Workspace.open(demo).contract
    data, html = packs["es"]
    es, en = parse(html), parse(packs["en"][1])
    labels = [r[0] for r in es.sections["funnel"].rows[1:] if len(r) == 7]
    assert labels == [s.translations["es"].label for s in contract.funnel.stages]
    assert "Lead cualificado por marketing (MQL)" in labels
    assert [r[0] for r in en.sections["funnel"].rows[1:] if len(r) == 7] == [
        s.display for s in contract.funnel.stages
    ]
    score_es, score_en = text_of(es, "scorecard"), text_of(en, "scorecard")
    for sl in contract.service_levels:
        spanish = sl.translations["es"]
        assert spanish.label in score_es and N(spanish.description or "") in score_es
        assert N(sl.description) not in score_es
        assert N(sl.description) in score_en and N(spanish.description or "") not in score_en
    glossary_es = text_of(es, "glossary")
    assert data.glossary is not None
    shown = set(data.glossary.loc[data.glossary["source"] == "contract", "name"])
    terms = [t for t in contract.glossary if t.name in shown]
    stages = [s for s in contract.funnel.stages if s.name in shown]
    assert terms and stages
    for t in terms:
        assert t.label_in("es") in glossary_es and N(t.definition_in("es")) in glossary_es
        assert N(t.definition) not in glossary_es
    for s in stages:
        assert N(s.description_in("es")) in glossary_es and N(s.description) not in glossary_es
    # Cueva's own definitions (metrics the contract does not define) come from the catalog
    registry = data.glossary[data.glossary["source"] == "registry"]
    assert not registry.empty
    gettext = translations("es").gettext
    for definition in registry["definition"]:
        assert gettext(definition) != definition
        assert N(gettext(definition)) in glossary_es and N(definition) not in glossary_es
    # the missed service levels' agenda items and the credited milestone use them too
    assert data.scorecard is not None
    missed = data.scorecard.loc[data.scorecard["status"] == "missed", "name"]
    items = " ".join(es.sections["agenda"].items)
    for name in missed:
        assert contract.service_level(name).label_in("es") in items
    assert data.attribution_milestone
    milestone = contract.funnel.stage(data.attribution_milestone).label_in("es")
    assert f"hito atribuido: {milestone})" in text_of(es, "attribution")


def test_untranslated_contract_text_falls_back_to_the_contracts_own(
    packs: dict[str, tuple[PackData, str]],
) -> None:
    import dataclasses

    from cueva.contract import parse_contract
    from cueva.demo import demo_contract_text

    text = demo_contract_text()
    block = re.search(r"      translations:\n        es:\n          label: Lead cualificado por "
                      r"marketing \(MQL\)\n.*?\n(?=      entry:)", text, re.S)  # fmt: skip
    assert block
    contract = parse_contract(text.replace(block.group(0), ""))
    data = dataclasses.replace(packs["es"][0], contract=contract)
    p = parse(render_html(data))
    labels = [r[0] for r in p.sections["funnel"].rows[1:] if len(r) == 7]
    assert labels[1] == "Marketing Qualified Lead"  # the contract's own label, not a message id
    assert labels[2] == "Lead cualificado por ventas (SQL)"
    mql = contract.funnel.stage("mql")
    assert N(mql.description) in text_of(p, "glossary")
    # without a contract at all, the results' own labels
    bare = parse(render_html(dataclasses.replace(packs["es"][0], contract=None)))
    funnel = packs["es"][0].funnel
    assert funnel is not None
    assert [r[0] for r in bare.sections["funnel"].rows[1:] if len(r) == 7] == list(funnel["label"])


def _assert_same_pack(a: PackData, b: PackData) -> None:
    import dataclasses

    for f in dataclasses.fields(PackData):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "generated_at":
            continue
        if isinstance(x, pd.DataFrame):
            assert isinstance(y, pd.DataFrame), f.name
            pd.testing.assert_frame_equal(x, y, obj=f.name)
        else:
            assert x == y, f.name


def test_concurrent_collect_gives_the_sequential_results(demo: Path) -> None:
    """Attribution in a worker thread on its own connection: the same pack, field by field
    (glossary order included), as every section one after the other."""
    import threading

    with Workspace.open(demo) as ws:
        before = threading.active_count()
        together = collect_pack(ws, PERIOD, vs=VS, lang="es", today=TODAY, concurrent=True)
        apart = collect_pack(ws, PERIOD, vs=VS, lang="es", today=TODAY)
        assert threading.active_count() == before  # the worker is gone
    assert together.attribution is not None and "attribution" not in together.unavailable
    _assert_same_pack(together, apart)


def test_an_error_in_a_worker_marks_its_section_unavailable(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import cueva.attribution
    import cueva.sla
    from cueva.errors import UsageError

    threads: list[str] = []

    def failing(message: str) -> Callable[..., None]:
        def fail(*args: object, **kwargs: object) -> None:
            threads.append(threading.current_thread().name)
            raise UsageError(message)

        return fail

    monkeypatch.setattr(
        cueva.attribution, "attribute_store", failing("no touchpoints before any milestone\nmore")
    )
    monkeypatch.setattr(cueva.sla, "scorecard", failing("the contract has no service_levels"))
    with Workspace.open(demo) as ws:
        data = collect_pack(ws, PERIOD, vs=VS, lang="en", today=TODAY, concurrent=True)
    assert len(threads) == 2 and all(t.startswith("cueva-pack") for t in threads)
    # raised in the main thread by each section, which shows the first line as the reason
    assert data.unavailable == {
        "attribution": "no touchpoints before any milestone",
        "scorecard": "the contract has no service_levels",
    }
    assert data.attribution is None and data.sourced is None and data.scorecard is None
    assert data.funnel is not None and data.gap is not None
