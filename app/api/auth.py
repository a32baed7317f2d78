"""Who may call what: API keys on Qdrant's pattern (read-write and read-only), the admin token, open binds.

With `MULTIVEC_API_KEY` (read-write) or `MULTIVEC_READ_ONLY_API_KEY` set, every data route needs a key,
sent as `api-key: <key>` (as Qdrant takes it) or `Authorization: Bearer <key>`: writes need the read-write
key, reads take either. `/health` and `/ready` stay open for probes. Admin routes take only
`Authorization: Bearer <MULTIVEC_ADMIN_TOKEN>`, or loopback clients when no token is set.
Secrets are compared with `hmac.compare_digest`.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING, Any

from app.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler

    from app.settings import Settings

KEY_HEADERS = "`api-key: <key>` or `Authorization: Bearer <key>`"


def is_loopback(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1 (brackets allowed); False for any other name or address."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def open_bind_refusal(host: str, settings: Settings, *, allow_open: bool = False) -> str | None:
    """Why the service must not start on `host` with these settings, or None when it may.

    A service with no API key, bound to an address other hosts can reach, would let anyone write and
    delete; it starts only when `settings.allow_open` (`MULTIVEC_ALLOW_OPEN=true`) or `allow_open`
    (`--allow-open`) says so.
    """
    keyed = settings.api_key or settings.read_only_api_key
    if keyed or allow_open or settings.allow_open or is_loopback(host):
        return None
    return (f"refusing to serve on {host} with no API key: set MULTIVEC_API_KEY (and MULTIVEC_READ_ONLY_API_KEY), "
            "bind to 127.0.0.1, or allow an open service with MULTIVEC_ALLOW_OPEN=true / --allow-open")


def presented_secret(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The secret a request carries: its `api-key` header, else its `Authorization: Bearer` token ('' if none)."""
    given = connection.headers.get("api-key")
    if given:
        return given.strip()
    scheme, _sep, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _matches(given: str, secret: str | None) -> bool:
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())  # type: ignore[union-attr]


def _settings(connection: ASGIConnection[Any, Any, Any, Any]) -> Settings:
    return connection.app.state.settings  # type: ignore[no-any-return]


def _asks_methods(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """An OPTIONS request (answered by Litestar, 204 with `Allow`) is open, as its 405 is: it says only which
    methods the path answers, and runs no handler."""
    return connection.scope.get("method") == "OPTIONS"


def read_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Searches and document reads: with keys set, either key.

    Raises:
        Unauthorized: keys are set and the request carries neither.
    """
    if _asks_methods(connection):
        return
    s = _settings(connection)
    if not (s.api_key or s.read_only_api_key):
        return
    given = presented_secret(connection)
    if not (_matches(given, s.api_key) or _matches(given, s.read_only_api_key)):
        raise Unauthorized(f"this endpoint needs an API key: {KEY_HEADERS}")


def write_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Writes and deletes: with keys set, the read-write key.

    Raises:
        Unauthorized: keys are set and the request carries no valid key.
        Forbidden: the request carries the read-only key.
    """
    if _asks_methods(connection):
        return
    s = _settings(connection)
    if not (s.api_key or s.read_only_api_key):
        return
    given = presented_secret(connection)
    if _matches(given, s.api_key):
        return
    if _matches(given, s.read_only_api_key):
        raise Forbidden("the read-only API key cannot write: this endpoint needs the read-write key")
    raise Unauthorized(f"this endpoint needs the read-write API key: {KEY_HEADERS}")


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Admin routes: the bearer admin token when one is set; otherwise loopback clients only.

    Raises:
        Unauthorized: the token is set and not given, or is unset and the client is not on this machine.
    """
    if _asks_methods(connection):
        return
    token = _settings(connection).admin_token
    if token:
        scheme, _sep, given = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not _matches(given.strip(), token):
            raise Unauthorized("admin endpoints need `Authorization: Bearer <MULTIVEC_ADMIN_TOKEN>`")
        return
    if not is_loopback(connection.client.host if connection.client else ""):
        raise Unauthorized("admin endpoints answer only local clients unless MULTIVEC_ADMIN_TOKEN is set")
