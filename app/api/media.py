"""What a JSON request body must be sent as: `application/json` (UTF-8), not compressed; checked before decoding."""

from __future__ import annotations

import re

from litestar.datastructures import Headers

from app.errors import UnsupportedMediaType

ACCEPTED = "application/json"
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which some Windows tools put before a JSON text
JSON_WHITESPACE = b" \t\r\n"  # RFC 8259, 2: the only whitespace JSON allows around a value


def check_json_media(headers: Headers) -> None:
    """Refuse a request body that is not sent as uncompressed UTF-8 JSON.

    Args:
        headers: the request's headers (case-insensitive names, each as often as it was sent); only called for a
            non-empty body.

    Raises:
        UnsupportedMediaType (415): no `content-type` header, more than one (whatever their order), a type other
            than `application/json` (form data, text, XML, ...), a charset other than UTF-8, or a
            `content-encoding` other than `identity` (gzip, br, ...) in any of its headers or list entries; the
            message names what was received and what is accepted.
    """
    types = headers.getall("content-type", [])
    if len(types) > 1:
        raise UnsupportedMediaType(f"the request has {len(types)} content-type headers ("
                                   f"{', '.join(repr(t) for t in types)}): send one, 'content-type: {ACCEPTED}'",
                                   {"received": types, "accepted": ACCEPTED})
    given = types[0] if types else None
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
    # every content-encoding header, each a comma-separated list (RFC 9110, 5.3): one coding not `identity` is
    # one the body would have to be decoded from
    codings = [c.strip() for value in headers.getall("content-encoding", []) for c in value.split(",")]
    if any(c and c.lower() != "identity" for c in codings):
        encoding = ", ".join(c for c in codings if c)
        raise UnsupportedMediaType(f"content-encoding {encoding!r} is not supported: send the body uncompressed",
                                   {"received": encoding, "accepted": "identity"})


def without_bom(body: bytes) -> bytes:
    """`body` without a leading UTF-8 byte order mark (RFC 8259, 8.1: a parser may ignore one); a body that is
    only one, or only JSON whitespace (space, tab, CR, LF: `echo | curl --data-binary @-` sends one newline), is
    empty: answered as a request without a body (the route's defaults where its body is optional, else a 400
    `malformed_request`), not as JSON that is cut short."""
    body = body[len(BOM):] if body.startswith(BOM) else body
    return body if body.strip(JSON_WHITESPACE) else b""


def leading_boms(body: bytes) -> int:
    """How many UTF-8 byte order marks `body` starts with (0, 1, 2, ...)."""
    count = 0
    while body.startswith(BOM, count * len(BOM)):
        count += 1
    return count


_ESCAPE = re.compile(rb"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)  # one escape inside a JSON string, left to right


def unpaired_surrogate(body: bytes) -> str | None:
    """The first `\\uXXXX` escape of `body` that is half of a UTF-16 surrogate pair with no other half (a high one
    not followed at once by a low one, or a low one not preceded by a high one), as written; None when there is
    none. JSON allows such an escape, but it is not a character, so the decoder refuses it (as "Input data was
    truncated" when it ends a string); the 400 names this instead."""
    high: re.Match[bytes] | None = None  # a high half waiting for its low half at the very next byte
    for m in _ESCAPE.finditer(body):
        code = int(m.group(1)[1:], 16) if m.group(1)[:1] == b"u" and len(m.group(1)) == 5 else None
        low = code is not None and 0xDC00 <= code <= 0xDFFF
        if high is not None and not (low and m.start() == high.end()):
            return high.group().decode()
        if high is None and low:
            return m.group().decode()
        high = m if high is None and code is not None and 0xD800 <= code <= 0xDBFF else None
    return high.group().decode() if high is not None else None
