"""HEAD on every GET route: answered as its GET would be, without the body (RFC 9110, 9.3.2).

Litestar routes HEAD only to handlers declared for it, so without this `curl -I /health` (and any
probe or cache that checks a resource with HEAD) got 405. A HEAD request runs the route's GET
handler (GET handlers change nothing) and the client gets the same status and headers,
Content-Length included, with an empty body. A HEAD on a route without GET answers as that GET
would: 405, or 404 for a path that does not exist. Every `Allow` header that lists GET (a 405, an
OPTIONS answer) lists HEAD too.

An `Allow` header of a matched route lists every method of that route: Litestar's own OPTIONS answer of a
path served by two handlers (`GET` and `DELETE /documents/{id}`) listed only the methods of the handler
registered first (its OPTIONS handler keeps the route it was made for), so `allowed` gives each route's
methods by its path template.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send


def with_head_allowed(message: Message, route_methods: Collection[str] | None = None) -> Message:
    """A response start whose `Allow` header lists GET but not HEAD, with HEAD added, and with `route_methods`
    (the matched route's methods) in place of what it listed; any other message as is."""
    if message["type"] != "http.response.start":
        return message
    headers = list(message.get("headers", ()))
    for i, (name, value) in enumerate(headers):
        if name.lower() != b"allow":
            continue
        methods = {m.strip() for m in value.split(b",")} | {m.encode() for m in route_methods or ()}
        if b"GET" in methods:
            methods.add(b"HEAD")
        headers[i] = (name, b", ".join(sorted(methods)))
        return {**message, "headers": headers}  # type: ignore[typeddict-item]
    return message


class HeadAsGet:
    """ASGI wrapper around the app: HEAD becomes GET on the way in, the body is dropped on the way out, and
    `Allow` lists every method of the route (`allowed`: path template -> methods, from `Litestar.routes`)."""

    def __init__(self, app: ASGIApp, allowed: Mapping[str, Collection[str]] | None = None) -> None:
        self.app = app
        self.allowed = allowed or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass every request through; a HEAD one as GET, its response body withheld; `Allow` lists HEAD."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope.get("method") == "HEAD"

        async def sending(message: Message) -> None:
            if head and message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # a chunk of a streamed body: withheld
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(with_head_allowed(message, self.allowed.get(inner.get("path_template", ""))))

        inner: Any = {**scope, "method": "GET"} if head else scope
        try:
            await self.app(inner, receive, sending)
        finally:
            if head and "path_template" in inner:  # the route matched, for the request log and metrics
                scope["path_template"] = inner["path_template"]  # type: ignore[typeddict-unknown-key]
