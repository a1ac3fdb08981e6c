"""The import-format page is generated from the schema and must match it."""

from __future__ import annotations

from pathlib import Path

from cueva.docs_gen import main, render
from cueva.schema import TABLES, column_key, table_for_file

DOC = Path(__file__).resolve().parents[1] / "docs" / "import-format.md"


def test_committed_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "docs/import-format.md: run 'make docs'"


def test_every_table_and_column_is_documented() -> None:
    text = render()
    for table in TABLES.values():
        assert f"### {table.name}\n" in text
        for col in table.columns:
            assert f"| `{col.name}` |" in text


def test_check_mode_detects_drift(tmp_path: Path) -> None:
    page = tmp_path / "import-format.md"
    assert main([str(page)]) == 0
    assert main(["--check", str(page)]) == 0
    page.write_text(page.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    assert main(["--check", str(page)]) == 1


def test_column_and_file_names() -> None:
    assert column_key(" Person ID ") == "person_id"
    assert column_key("\ufeffCREATED_AT") == "created_at"
    assert column_key("Créé le") == "créé_le"
    assert column_key("  ") == ""
    assert table_for_file("people").name == "people"  # type: ignore[union-attr]
    assert table_for_file("People_2026-05").name == "people"  # type: ignore[union-attr]
    assert table_for_file("opportunity_history").name == "opportunity_history"  # type: ignore[union-attr]
    assert table_for_file("opportunities-q1").name == "opportunities"  # type: ignore[union-attr]
    assert table_for_file("peoples") is None
    assert table_for_file("leads") is None
