"""What a JSON request body must be sent as: `application/json` (UTF-8), not compressed; checked before decoding."""

from __future__ import annotations

from collections.abc import Mapping

from app.errors import UnsupportedMediaType

ACCEPTED = "application/json"
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which some Windows tools put before a JSON text


def check_json_media(headers: Mapping[str, str]) -> None:
    """Refuse a request body that is not sent as uncompressed UTF-8 JSON.

    Args:
        headers: the request's headers (case-insensitive names); only called for a non-empty body.

    Raises:
        UnsupportedMediaType (415): no `content-type` header, a type other than `application/json` (form data,
            text, XML, ...), a charset other than UTF-8, or a `content-encoding` other than `identity`
            (gzip, br, ...); the message names what was received and what is accepted.
    """
    given = headers.get("content-type")
    if given is None or not given.strip():
        raise UnsupportedMediaType(f"the request has a body but no content-type header: send it as "
                                   f"'content-type: {ACCEPTED}'", {"received": None, "accepted": ACCEPTED})
    kind, *params = (part.strip() for part in given.split(";"))
    if kind.lower() != ACCEPTED:
        raise UnsupportedMediaType(f"content-type {kind!r} is not accepted: send the body as JSON with "
                                   f"'content-type: {ACCEPTED}'", {"received": given, "accepted": ACCEPTED})
    for param in params:
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"charset {value.strip()!r} is not accepted: JSON is read as UTF-8 "
                                       f"('content-type: {ACCEPTED}; charset=utf-8')",
                                       {"received": given, "accepted": ACCEPTED})
    encoding = (headers.get("content-encoding") or "").strip()
    if encoding and encoding.lower() != "identity":
        raise UnsupportedMediaType(f"content-encoding {encoding!r} is not supported: send the body uncompressed",
                                   {"received": encoding, "accepted": "identity"})


def without_bom(body: bytes) -> bytes:
    """`body` without a leading UTF-8 byte order mark (RFC 8259, 8.1: a parser may ignore one)."""
    return body[len(BOM):] if body.startswith(BOM) else body
