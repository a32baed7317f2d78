"""Filters match the same documents on every adapter, for every kind of value a filter takes."""

from __future__ import annotations

import pytest

from app.container import Services
from app.domain.plan import metadata_filter
from app.services.search import SearchRequest
from tests.conftest import to_documents

DOCS = [
    {"id": "t", "title": "Flagged note", "body": "A note about ferns.", "metadata": {"flag": True, "n": 1, "s": "x",
                                                                                      "deep": {"k": "v"}}},
    {"id": "f", "title": "Plain note", "body": "A note about ferns.", "metadata": {"flag": False, "n": 2, "s": "y",
                                                                                    "deep": {"k": "w"}}},
]


@pytest.mark.parametrize(("flt", "expected"), [
    ({"flag": True}, {"t"}), ({"flag": False}, {"f"}), ({"n": 1}, {"t"}), ({"n": [1, 2]}, {"t", "f"}),
    ({"s": "y"}, {"f"}), ({"s": ["x", "z"]}, {"t"}), ({"deep.k": "w"}, {"f"}), ({"flag": True, "n": 2}, set()),
])
def test_a_filter_matches_the_same_documents_on_every_adapter(services: Services, flt: dict, expected: set) -> None:
    services.ingest.upsert(to_documents(DOCS))
    hits = services.search.search(SearchRequest(query="note about ferns", filter=metadata_filter(flt))).hits
    assert {h["id"] for h in hits} == expected
