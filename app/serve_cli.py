"""The `serve` command (scripts/serve): its arguments, and the checks that end a start in one line before the
store is opened (an open bind, a port in use, invalid settings, a store or model that cannot be opened)."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket

from pydantic import ValidationError
from pydantic_settings import SettingsError

from app.arg_types import whole
from app.launch import validation_line

_positive = whole(1)  # the load command's counts, and a port's lower bound


def _port(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535 (uvicorn would wrap 99999 to another port)."""
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {value}")
    return value


def serve_parser() -> argparse.ArgumentParser:
    """The `serve` command's arguments (the README documents each; a test holds it to that)."""
    parser = argparse.ArgumentParser(prog="scripts/serve", description="Start the service.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=_port, default=8000, help="port to listen on, 1-65535 (default 8000)")
    parser.add_argument("--allow-open", action="store_true",
                        help="serve on a non-loopback host with no API key (as MULTIVEC_ALLOW_OPEN=true)")
    return parser


def local_url(host: str, port: int) -> str:
    """The URL a command on this machine reaches a service bound to `host`:`port` at (a wildcard bind
    is reached on loopback)."""
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bind_problem(host: str, port: int) -> str | None:
    """Why the service could not listen on `host`:`port` (a port another process holds, an address this machine
    does not have or cannot resolve), found by binding it as uvicorn will (SO_REUSEADDR) and letting it go; None
    when it can. Checked before the store is opened: uvicorn would say it after the start-up, in log lines."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as e:
        taken = e.errno == errno.EADDRINUSE
        hint = " (another process listens there: stop it or choose another --port)" if taken else ""
        return f"cannot listen on {host}:{port}: {e.strerror or e}{hint}"
    return None


def serve(argv: list[str] | None = None) -> None:
    """Start the service, after refusing an open bind: no API key on a non-loopback host.

    The store and the models are opened here, before the server starts, so an operator error (a data
    folder another process holds, an unreachable server, invalid settings) ends the command with one line
    and a non-zero exit instead of a server traceback.

    Raises:
        SystemExit: one line saying why, when the bind is refused, the port is taken (checked before the store
            is opened) or the store cannot be opened.
    """
    from app.api.auth import open_bind_refusal
    from app.errors import AppError
    from app.observe.logs import configure_logging
    from app.settings import Settings
    from app.settings_checks import unknown_variable_lines

    args = serve_parser().parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, SettingsError) as e:
        raise SystemExit(f"serve: settings from the environment are invalid: {validation_line(e)}") from None
    refusal = open_bind_refusal(args.host, settings, allow_open=args.allow_open)
    if refusal:
        raise SystemExit(f"serve: {refusal}")
    busy = bind_problem(args.host, args.port)
    if busy:
        raise SystemExit(f"serve: {busy}")
    try:
        configure_logging(settings.log_level)
    except ValueError as e:
        raise SystemExit(f"serve: MULTIVEC_LOG_LEVEL: {e}") from None
    for line in unknown_variable_lines(os.environ, Settings):  # a misspelt name would be ignored in silence
        logging.getLogger("multivec").warning("%s", line)

    import uvicorn

    from app.asgi import create_app
    from app.container import build_services

    try:
        services = build_services(settings)
        # every model a write or a search uses, loaded now: a model (or a cache folder) that cannot load ends the
        # start in one line, rather than a service that says it is ready and fails every search
        for model in sorted({v.model for v in services.registry.get().written_versions()}):
            services.encoders.get(model)
    except AppError as e:
        raise SystemExit(f"serve: {e.code}: {e.message}") from None
    if not settings.store.url:  # the embedded folder is ours: say where we listen, for the commands it refuses
        from app.store.folder import FolderLock

        FolderLock.announce_url(settings.store.path, local_url(args.host, args.port))
    try:
        # our JSON request lines replace uvicorn's access log; log_config=None keeps configure_logging's handlers
        uvicorn.run(create_app(settings, services=services), host=args.host, port=args.port, workers=1,
                    log_config=None, access_log=False)
    finally:
        services.close()


