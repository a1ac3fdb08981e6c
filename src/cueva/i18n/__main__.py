"""Maintain the message catalogs: ``python -m cueva.i18n update`` | ``check``.

``update`` extracts every message id from the report's Python code and Jinja2 templates (and
the metric registry's definitions, shown in the pack's glossary) into
``cueva/locale/cueva.pot`` and merges it into each language's ``.po`` file (new ids are added
empty, ids that disappeared are dropped; English entries are filled with their id). ``check``
exits 1 and lists the problems when a catalog misses an id or a translation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from cueva.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, catalog_path, read_catalog

PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: Where report text lives: (folder under the package, Babel method map).
SOURCES = (("report", [("**.py", "python"), ("templates/**.j2", "jinja2.ext:babel_extract")]),)
OPTIONS = {"templates/**.j2": {"extensions": "jinja2.ext.i18n"}}


def extract() -> Catalog:
    """A template catalog of every message id used by the report."""
    cat = Catalog(domain=DOMAIN, project="cueva", charset="utf-8")
    for folder, method_map in SOURCES:
        root = PACKAGE_DIR / folder
        for filename, lineno, message, comments, context in extract_from_dir(
            root,
            method_map=method_map,
            options_map=OPTIONS,
            keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
        ):
            cat.add(
                message,
                None,
                [(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    # Cueva's standard metric definitions, which the pack's glossary shows for a metric the
    # contract does not define (they are written in the registry, not wrapped in gettext)
    from cueva.metrics.registry import METRICS

    for name, metric in METRICS.items():
        cat.add(
            metric.definition,
            None,
            [("metrics/registry.py", 0)],
            auto_comments=[f"the definition of the metric {name}"],
        )
    return cat


def problems() -> list[str]:
    """Missing ids and missing (or fuzzy) translations, one line each."""
    template = extract()
    wanted = {m.id for m in template if m.id}
    out: list[str] = []
    for lang in LANGUAGES:
        cat = read_catalog(lang)
        have = {m.id: m for m in cat if m.id}
        for mid in sorted(wanted, key=str):
            m = have.get(mid)
            if m is None:
                out.append(f"{lang}: message id not in catalog: {mid!r}")
            elif m.fuzzy or not (
                all(m.string) if isinstance(m.string, (tuple, list)) else m.string
            ):
                out.append(f"{lang}: no reviewed translation for: {mid!r}")
        for mid in sorted(set(have) - wanted, key=str):
            out.append(f"{lang}: obsolete message id: {mid!r}")
    return out


def update() -> None:
    template = extract()
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as fh:
        write_po(fh, template, omit_header=False, sort_output=True, include_lineno=False)
    for lang in LANGUAGES:
        path = catalog_path(lang)
        if path.exists():
            cat = read_catalog(lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            cat = Catalog(locale=lang, domain=DOMAIN, project="cueva", charset="utf-8")
        cat.update(extract(), no_fuzzy_matching=True)
        cat.fuzzy = False
        cat.obsolete.clear()
        if lang == "en":
            for m in cat:
                empty = not any(m.string or ()) if isinstance(m.id, tuple) else not m.string
                if m.id and empty:
                    m.string = m.id
        with path.open("wb") as fh:
            write_po(fh, cat, omit_header=False, sort_output=True, width=100, include_lineno=False)
        print(f"wrote {path}")


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "update":
        update()
        return 0
    if cmd == "check":
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    print("usage: python -m cueva.i18n update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
