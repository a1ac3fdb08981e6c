"""docs/contract.md cannot drift: its key reference and glossary example are generated."""

from __future__ import annotations

import re
from pathlib import Path

from cueva.contract import glossary_markdown, parse_contract, reference_markdown, starter_contract

DOC = Path(__file__).parent.parent / "docs" / "contract.md"


def _block(text: str, name: str) -> str:
    m = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert m, f"docs/contract.md lost its {name} markers"
    return m.group(1)


def expected() -> dict[str, str]:
    return {
        "reference": reference_markdown(),
        "glossary": glossary_markdown(parse_contract(starter_contract("Acme"))),
    }


def test_contract_doc_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, body in expected().items():
        assert _block(text, name) == body, (
            f"docs/contract.md {name} is out of date: run .venv/bin/python -m tests.test_contract_docs"
        )


def test_every_service_level_kind_is_documented() -> None:
    from typing import get_args

    from cueva.contract import SlaKind

    text = DOC.read_text(encoding="utf-8")
    scorecard = (DOC.parent / "scorecard.md").read_text(encoding="utf-8")
    for kind in get_args(SlaKind):
        assert f"| `{kind}` |" in text, kind
        assert f"`{kind}`" in scorecard, kind


if __name__ == "__main__":
    text = DOC.read_text(encoding="utf-8")
    for name, body in expected().items():
        text = re.sub(
            rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)",
            lambda m, body=body: m.group(1) + body + m.group(2),
            text,
            flags=re.S,
        )
    DOC.write_text(text, encoding="utf-8")
    print(f"updated {DOC}")
