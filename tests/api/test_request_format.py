"""A JSON body sent as anything else (another content-type or charset, compressed, no content-type) is a 415
naming what was received and what is accepted, on every route that takes a body, and changes nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.container import Services

DOC = {"documents": [{"id": "media-1", "title": "Sent as what?", "body": "A body about content types."}]}
# every route that reads a JSON body, with a body it would accept (a restore of a missing backup: 404 at most)
ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/documents", DOC),
    ("/search", {"query": "content types"}),
    ("/admin/backup", {"name": "media-backup"}),
    ("/admin/restore", {"name": "no-such-backup"}),
    ("/admin/migrations/plan", {}),
]
WRONG_TYPES = ["text/plain", "application/xml", "multipart/form-data; boundary=x",
               "application/x-www-form-urlencoded", "application/json; charset=utf-16"]


def stored(services: Services) -> tuple[int, bool, list[str]]:
    """What a refused request must not change: the point count, the test document, the backups."""
    root = services.backup.root
    backups = sorted(p.name for p in root.iterdir()) if root.exists() else []
    present = True
    try:
        services.ingest.get("media-1")
    except Exception:
        present = False
    return services.ingest.count(), present, backups


def assert_415(r: httpx.Response, *named: str) -> None:
    assert r.status_code == 415, r.text
    body = r.json()
    assert body["code"] == "unsupported_media_type"
    for word in named:
        assert word in body["message"], (word, body["message"])


@pytest.mark.parametrize("content_type", WRONG_TYPES)
@pytest.mark.parametrize(("path", "payload"), ROUTES, ids=[p for p, _ in ROUTES])
def test_a_body_of_another_content_type_is_415_naming_both_types_and_changes_nothing(
    live_url: str, app_services: Services, path: str, payload: dict[str, Any], content_type: str
) -> None:
    before = stored(app_services)
    r = httpx.post(live_url + path, content=json.dumps(payload).encode(), headers={"content-type": content_type},
                   timeout=60)
    named = ("charset", "utf-16") if "charset" in content_type else (content_type.split(";")[0],)
    assert_415(r, *named, "application/json")
    assert stored(app_services) == before


@pytest.mark.parametrize(("path", "payload"), ROUTES, ids=[p for p, _ in ROUTES])
def test_a_body_without_a_content_type_is_415_saying_so(live_url: str, app_services: Services, path: str,
                                                         payload: dict[str, Any]) -> None:
    before = stored(app_services)
    request = httpx.Request("POST", live_url + path, content=json.dumps(payload).encode())
    assert "content-type" not in request.headers  # httpx sends none for raw bytes
    with httpx.Client(timeout=60) as c:
        r = c.send(request)
    assert_415(r, "no content-type", "application/json")
    assert stored(app_services) == before


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
@pytest.mark.parametrize(("path", "payload"), ROUTES, ids=[p for p, _ in ROUTES])
def test_a_compressed_body_is_415_naming_the_encoding(live_url: str, app_services: Services, path: str,
                                                       payload: dict[str, Any], encoding: str) -> None:
    before = stored(app_services)
    raw = json.dumps(payload).encode()
    content = gzip.compress(raw) if encoding == "gzip" else raw  # br: a plain body labelled compressed
    r = httpx.post(live_url + path, content=content, timeout=60,
                   headers={"content-type": "application/json", "content-encoding": encoding})
    assert_415(r, f"content-encoding '{encoding}' is not supported")
    assert stored(app_services) == before


@pytest.mark.parametrize("types", [("application/json", "text/plain"), ("text/plain", "application/json"),
                                   ("application/json", "application/json")])
@pytest.mark.parametrize(("path", "payload"), ROUTES, ids=[p for p, _ in ROUTES])
def test_two_content_type_headers_are_415_naming_them_whatever_their_order(
    live_url: str, app_services: Services, path: str, payload: dict[str, Any], types: tuple[str, str]
) -> None:
    """Found by a tester: `-H 'content-type: application/json' -H 'content-type: text/plain'` was read as JSON
    (the first header won) and the reverse order was a 415."""
    before = stored(app_services)
    r = httpx.post(live_url + path, content=json.dumps(payload).encode(), timeout=60,
                   headers=[("content-type", types[0]), ("content-type", types[1])])
    assert_415(r, "2 content-type headers", repr(types[0]), repr(types[1]), "send one")
    assert stored(app_services) == before


@pytest.mark.parametrize("headers", [[("content-encoding", "identity"), ("content-encoding", "gzip")],
                                     [("content-encoding", "gzip"), ("content-encoding", "identity")],
                                     [("content-encoding", "identity, gzip")]])
@pytest.mark.parametrize(("path", "payload"), ROUTES, ids=[p for p, _ in ROUTES])
def test_every_content_encoding_header_and_entry_is_considered(
    live_url: str, app_services: Services, path: str, payload: dict[str, Any], headers: list[tuple[str, str]]
) -> None:
    """Found by a tester: `identity` then `gzip` as two headers was read as plain JSON (only the first header was
    read) where `identity, gzip` in one header was a 415."""
    before = stored(app_services)
    r = httpx.post(live_url + path, content=json.dumps(payload).encode(), timeout=60,
                   headers=[("content-type", "application/json"), *headers])
    assert_415(r, "content-encoding 'identity, gzip'" if headers[0][1] != "gzip" else "content-encoding 'gzip, "
               "identity'", "send the body uncompressed")
    assert stored(app_services) == before


def test_json_with_a_utf8_charset_or_identity_encoding_is_accepted(live_url: str) -> None:
    for headers in ({"content-type": "application/json; charset=UTF-8"},
                    {"content-type": "Application/JSON", "content-encoding": "identity"},
                    [("content-type", "application/json"), ("content-encoding", "identity"),
                     ("content-encoding", "IDENTITY")]):
        r = httpx.post(live_url + "/search", content=b'{"query": "content types"}', headers=headers, timeout=60)
        assert r.status_code == 200, (headers, r.text)


def test_a_body_starting_with_a_byte_order_mark_is_read_without_it(live_url: str, app_services: Services) -> None:
    doc = {"documents": [{"id": "bom-doc", "title": "Saved by Notepad", "body": "A UTF-8 file with a BOM."}]}
    r = httpx.post(live_url + "/documents", content=b"\xef\xbb\xbf" + json.dumps(doc).encode(),
                   headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["ids"] == ["bom-doc"]  # the id does not start with U+FEFF
    assert app_services.ingest.get("bom-doc")["title"] == "Saved by Notepad"
    r = httpx.post(live_url + "/search", content='\ufeff{"query": "Notepad"}'.encode(),
                   headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("path", "payload"), ROUTES, ids=[p for p, _ in ROUTES])
def test_a_body_that_is_only_a_byte_order_mark_is_answered_as_an_empty_body(
    live_url: str, app_services: Services, path: str, payload: dict[str, Any]
) -> None:
    """Found by a tester: a body of only a BOM was a 422 "body: Input should be a valid dictionary" where an
    empty body is a 400 saying it is empty; two BOMs were a 400 about an invalid character at byte 0."""
    def answer(body: bytes, headers: dict[str, str]) -> tuple[int, Any, Any]:
        r = httpx.post(live_url + path, content=body, headers=headers, timeout=120)
        return r.status_code, r.json().get("code"), r.json().get("message")

    for headers in ({"content-type": "application/json"}, {}):
        before = stored(app_services)
        empty = answer(b"", headers)
        changed = stored(app_services) != before  # an empty POST /admin/backup makes a backup
        assert answer(b"\xef\xbb\xbf", headers) == empty, (path, headers)
        assert (stored(app_services) != before) == changed
    before = stored(app_services)
    status, code, message = answer(b"\xef\xbb\xbf" * 2 + json.dumps(payload).encode(),
                                   {"content-type": "application/json"})
    assert (status, code) == (400, "malformed_request"), message
    assert "starts with 2 UTF-8 byte order marks" in message and "send at most one" in message
    assert stored(app_services) == before


def test_a_post_without_a_body_needs_no_content_type(live_url: str, app_services: Services, tmp_path: Path) -> None:
    # `curl -X POST /admin/backup`: no body, nothing to describe
    r = httpx.post(live_url + "/admin/backup", timeout=120)
    assert r.status_code == 200, r.text


def test_the_openapi_document_declares_415_where_a_body_is_read(live_url: str) -> None:
    spec = httpx.get(live_url + "/schema/openapi.json", timeout=30).json()
    for path, _ in ROUTES:
        op = spec["paths"][path]["post"]
        assert list(op["requestBody"]["content"]) == ["application/json"]
        assert "415" in op["responses"], path
    assert "415" not in spec["paths"]["/admin/optimize"]["post"]["responses"]  # it reads no body


def test_a_body_over_the_limit_is_413_naming_the_limit_and_changes_nothing(live_url: str,
                                                                          app_services: Services) -> None:
    from app.settings import MAX_BODY_BYTES

    before = stored(app_services)
    big = {"documents": [{"id": "media-big", "title": "Too big", "body": "x" * (MAX_BODY_BYTES + 1)}]}
    r = httpx.post(live_url + "/documents", content=json.dumps(big).encode(),
                   headers={"content-type": "application/json"}, timeout=120)
    assert r.status_code == 413, r.text[:300]
    body = r.json()
    assert body["code"] == "payload_too_large" and "64 MiB" in body["message"]
    assert body["detail"] == {"limit_bytes": MAX_BODY_BYTES}
    assert stored(app_services) == before
