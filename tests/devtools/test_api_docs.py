"""docs/api.md's endpoint table is generated from the OpenAPI document and must be current."""

from __future__ import annotations

from cmdesk.devtools import api_docs


def test_endpoint_table_is_current():
    doc = api_docs.DOC.read_text(encoding="utf-8")
    assert api_docs.render(doc) == doc, "run: python -m cmdesk.devtools.api_docs"
