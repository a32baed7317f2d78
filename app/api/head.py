"""HEAD on every GET route: answered as its GET would be, without the body (RFC 9110, 9.3.2).

Litestar routes HEAD only to handlers declared for it, so without this `curl -I /health` (and any
probe or cache that checks a resource with HEAD) got 405. A HEAD request runs the route's GET
handler (GET handlers change nothing) and the client gets the same status and headers,
Content-Length included, with an empty body. A HEAD on a route without GET answers as that GET
would: 405, or 404 for a path that does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HeadAsGet:
    """ASGI wrapper around the app: HEAD becomes GET on the way in, the body is dropped on the way out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass every request through; a HEAD one as GET, its response body chunks withheld."""
        if scope.get("type") != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message.get("type") == "http.response.body":
                if message.get("more_body", False):
                    return  # a chunk of a streamed body: withheld
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
