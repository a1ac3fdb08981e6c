"""The joint meeting pack: one report both department heads read before they meet.

Three steps, each usable on its own::

    data = collect_pack(ws, "2026-Q2", vs="plan")   # results of the metric functions
    html = render_html(data, lang="es")             # one self-contained HTML page
    pdf = render_pdf(html)                          # the same page printed by WeasyPrint

:func:`write_pack` does all three and writes the files. Sections, in order: summary,
service levels, funnel, gap analysis, attribution, glossary, agenda, action items
(:data:`SECTIONS`). Text comes from the message catalogs (:mod:`cueva.i18n`), charts are
Vega-Altair specs (:mod:`cueva.report.charts`) inlined as SVG, and every name from CRM data
is escaped.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from cueva.errors import UsageError
from cueva.i18n import check_language
from cueva.periods import Period
from cueva.report._collect import collect_pack
from cueva.report._data import SECTIONS, PackData
from cueva.report._render import (
    agenda_items,
    questions,
    render_html,
    render_pdf,
    summary_paragraph,
    warm_up,
)

if TYPE_CHECKING:
    from cueva.workspace import Workspace


@dataclass(frozen=True)
class PackFiles:
    html: Path
    pdf: Path | None
    data: PackData


def write_pack(
    ws: Workspace,
    period: str | Period,
    out: Path | str,
    *,
    vs: str | None = None,
    lang: str | None = None,
    pdf: bool = False,
    today: date | None = None,
    agenda_threshold: float = 0.05,
    concurrent: bool = False,
) -> PackFiles:
    """Collect, render and write the pack to ``out`` (HTML), and with ``pdf`` the PDF beside
    it (same name, ``.pdf``). ``lang`` defaults to the contract's report language.

    ``concurrent``: attribution and the scorecard run beside the other sections on
    connections of their own, and the chart engine and PDF printer start meanwhile (see
    :func:`collect_pack`). Off by default: on the two-core machine it was measured on it
    gained nothing measurable and cost about 5% more CPU (docs/benchmarks.md)."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out must name an .html file, got {out}")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such folder for the pack")
    language = check_language(lang or ws.contract.language)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cueva-warm-up") as pool:
        # the chart engine and WeasyPrint start while the engine scans (first pack of a process)
        warming = pool.submit(warm_up, pdf) if concurrent else None
        data = collect_pack(
            ws,
            period,
            vs=vs,
            lang=language,
            today=today,
            agenda_threshold=agenda_threshold,
            concurrent=concurrent,
        )
        if warming is not None:
            warming.result()
    html = render_html(data, language)
    out.write_text(html, encoding="utf-8")
    pdf_path = None
    if pdf:
        pdf_path = out.with_suffix(".pdf")
        pdf_path.write_bytes(render_pdf(html))
    return PackFiles(out, pdf_path, data)


__all__ = [
    "SECTIONS",
    "PackData",
    "PackFiles",
    "agenda_items",
    "collect_pack",
    "questions",
    "render_html",
    "render_pdf",
    "summary_paragraph",
    "warm_up",
    "write_pack",
]
