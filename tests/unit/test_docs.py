from pathlib import Path

from northstar.accounts.permissions import permission_table_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_permission_doc_matches_the_table() -> None:
    assert permission_table_markdown() in (DOCS / "permissions.md").read_text()
