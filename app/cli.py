"""Operator commands: `serve` and `load` (scripts/serve, scripts/load call these)."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from app.corpus import CorpusError, Record, corpus_file, read_corpus, read_records
from app.launch import validation_line
from app.loader import (
    DirectWriter,
    HttpWriter,
    Loader,
    LoadError,
    LoadReport,
    LoadStopped,
    OptimizeFailed,
    RequestFailed,
    Skipped,
    Writer,
    batched,
    start_after,
)

__all__ = ["batched", "main", "read_corpus", "run_load", "serve"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _port(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535 (uvicorn would wrap 99999 to another port)."""
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {value}")
    return value


def _service_url(parser: argparse.ArgumentParser) -> str | None:
    """MULTIVEC_SERVICE_URL, None when unset or empty; one argparse line (exit status 2) when only spaces."""
    from app.settings_checks import url_or_unset

    try:
        return url_or_unset(os.environ.get("MULTIVEC_SERVICE_URL"))
    except ValueError as e:
        parser.error(str(e))


def load_parser() -> argparse.ArgumentParser:
    """The `load` command's arguments."""
    from app.settings_checks import url_arg
    parser = argparse.ArgumentParser(
        prog="scripts/load", description="Load a JSONL or BEIR-layout corpus. Exits non-zero on any refusal.")
    parser.add_argument("path", nargs="?", help="a corpus.jsonl file or a BEIR folder")
    parser.add_argument("--url", type=url_arg, default=_service_url(parser) or "http://127.0.0.1:8000",
                        help="the running service (default: MULTIVEC_SERVICE_URL, else http://127.0.0.1:8000)")
    parser.add_argument("--direct", action="store_true", help="write to the store directly (service stopped)")
    parser.add_argument("--batch", type=_positive, default=64, help="documents per request (default 64)")
    parser.add_argument("--limit", type=_positive, default=None, help="load at most this many records")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="go on past documents refused for their content; list them at the end")
    parser.add_argument("--start-after", metavar="ID", help="skip the records up to and including this id")
    parser.add_argument("--optimize-only", action="store_true", help="only build the indexes (after a load)")
    # scripts/load runs from the repository root; it passes the caller's directory to resolve `path` against.
    parser.add_argument("--relative-to", type=Path, help=argparse.SUPPRESS)
    return parser


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _records(args: argparse.Namespace) -> list[Record]:
    """The records to send, after --start-after and --limit. Raises LoadError."""
    if not args.path:
        raise LoadError("give a corpus path (or --optimize-only)")
    path = Path(args.relative_to or ".") / args.path
    records: Iterable[Record] = read_records(path)
    if args.start_after is not None:
        records = start_after(records, args.start_after)
    out = list(records)
    if not out:
        raise LoadError(f"no records to load in {corpus_file(path)}" + (" after --start-after" if args.start_after
                                                                         else ""))
    return out[: args.limit] if args.limit is not None else out


def _credentials() -> tuple[str | None, str | None]:
    """(read-write API key, admin token) from the environment / settings."""
    from app.settings import Settings

    settings = Settings()
    api_key = os.environ.get("MULTIVEC_API_KEY") or getattr(settings, "api_key", None)
    return api_key, settings.admin_token


@contextmanager
def _open_writer(args: argparse.Namespace, client: Any = None, services: Any = None) -> Iterator[Writer]:
    """The writer the arguments ask for; a client or services given by a caller (tests) are used, not closed.

    Raises:
        RequestFailed: the store cannot be opened (locked by another process, unreachable).
    """
    if args.direct:
        if services is not None:
            yield DirectWriter(services)
            return
        from app.container import build_services
        from app.errors import AppError, StoreLocked
        from app.settings import Settings
        from app.store.folder import through_service

        settings = Settings()
        try:
            services = build_services(settings)
        except StoreLocked as e:
            command = through_service(e, settings.service_url, "scripts/load --url {url} ... (without --direct)")
            raise RequestFailed(f"{e.message} To load while the service runs, go through it: {command}") from e
        except AppError as e:
            raise RequestFailed(f"{e.code}: {e.message}") from e
        try:
            yield DirectWriter(services)
        finally:
            services.close()
        return
    api_key, admin_token = _credentials()
    if client is not None:
        yield HttpWriter(client, api_key=api_key, admin_token=admin_token)
        return
    import httpx

    with httpx.Client(base_url=args.url, timeout=600) as own:
        yield HttpWriter(own, api_key=api_key, admin_token=admin_token)


def _how_to_go_on(stop: LoadStopped, args: argparse.Namespace) -> str:
    after = stop.report.resume_after
    skip_done = (f" --start-after {shlex.quote(after)}" if after else "")
    if stop.refused:
        tail = f" (add{skip_done} to skip the {stop.report.written} already written)" if after else ""
        return ("To go on: fix those records and rerun, or rerun with --skip-invalid to skip refused documents"
                f" and load the rest{tail}.")
    if after:
        return (f"To go on once that is fixed: rerun with{skip_done}{' --skip-invalid' if args.skip_invalid else ''}"
                " (the batches before it are written).")
    return "Fix that and rerun."


def _optimize_hint(args: argparse.Namespace) -> str:
    command = "scripts/load --optimize-only" + (" --direct" if args.direct else f" --url {args.url}")
    if args.direct:
        return f"Run `{command}` once the store is available."
    return f"Set MULTIVEC_ADMIN_TOKEN to the service's admin token and run `{command}`."


def _documents(n: int) -> str:
    return f"{n} document" + ("" if n == 1 else "s")


def _list(label: str, records: list[Skipped]) -> None:
    for s in records:
        _say(f"{label} {s.id!r} ({s.where}): {s.reason}" if s.id else f"{label} {s.where}: {s.reason}")


def _report(report: LoadReport, verb: str = "loaded") -> None:
    """Each skipped record with its reason (and the refused ones, when the stop line cannot name them all),
    then the counts and the rate."""
    _list("skipped", report.skipped)
    if len(report.refused) > 5:
        _list("refused", report.refused)
    skipped = f", skipped {len(report.skipped)} (listed above)" if report.skipped else ""
    _say(f"{verb} {_documents(report.written)}{skipped} in {report.seconds:.1f} s: {report.rate:.1f} docs/s")


def _failure(error: LoadError, args: argparse.Namespace) -> str:
    """The one line that ends a failed load: what happened, what was written, how to go on."""
    if isinstance(error, LoadStopped):
        r = error.report
        written = f"{_documents(r.written)} written" + (f", {len(r.skipped)} skipped" if r.skipped else "")
        return f"load stopped: {error.message}. {written}. {_how_to_go_on(error, args)}"
    if isinstance(error, OptimizeFailed):
        done = "" if args.optimize_only else "the documents are written but "
        return f"load: {done}not optimised: {error.message}. {_optimize_hint(args)}"
    return f"load: {error.message}"


def _load(writer: Writer, records: list[Record], args: argparse.Namespace) -> int:
    """Send the records with a progress bar; the report (skipped, counts, rate) is printed however it ends."""
    from tqdm import tqdm

    with tqdm(total=len(records), unit="doc", desc="load", file=sys.stderr) as bar:
        loader = Loader(writer, skip_invalid=args.skip_invalid, progress=bar.update)
        try:
            report = loader.run(records, batch_size=args.batch)
        except KeyboardInterrupt:
            bar.close()
            _report(loader.report, "wrote")
            after = loader.report.resume_after
            _say("interrupted" + (f"; go on with --start-after {shlex.quote(after)}" if after else ""))
            return 130
        except LoadError:
            bar.close()
            _report(loader.report, "wrote")
            raise
    _report(report)
    return 0


def run_load(args: argparse.Namespace, *, client: Any = None, services: Any = None) -> int:
    """Run `load`; returns the exit code: 0 when everything asked for was done, 1 on any refusal or failure.

    With --skip-invalid, documents refused for their content (a 422, or the same checks with --direct) are
    skipped and listed, and the exit code stays 0; anything else (no connection, 401/403, 5xx, a locked
    store, a refused optimise) is 1.

    Args:
        args: from `load_parser()`.
        client: an httpx client bound to the service (tests); else one is opened on `--url`.
        services: open services for `--direct` (tests); else they are built from the environment.
    """
    try:
        records = [] if args.optimize_only else _records(args)
        with _open_writer(args, client, services) as writer:
            if not args.optimize_only:
                return _load(writer, records, args)
            writer.optimize()
            _say("optimised")
            return 0
    except LoadError as e:
        _say(_failure(e, args))
        return 1
    except CorpusError as e:
        _say(f"load: {e.message}")
        return 1
    except (ValidationError, SettingsError) as e:
        _say(f"load: settings from the environment are invalid: {validation_line(e)}")
        return 1


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


def serve(argv: list[str] | None = None) -> None:
    """Start the service, after refusing an open bind: no API key on a non-loopback host.

    The store and the models are opened here, before the server starts, so an operator error (a data
    folder another process holds, an unreachable server, invalid settings) ends the command with one line
    and a non-zero exit instead of a server traceback.

    Raises:
        SystemExit: one line saying why, when the bind is refused or the store cannot be opened.
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


def main(argv: list[str] | None = None) -> None:
    """`python -m app.cli {serve,load} ...` (what scripts/serve and scripts/load run).

    Raises:
        SystemExit: usage when the command is neither; `load`'s exit code (0, or 1 on any refusal or failure).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("serve", "load"):
        raise SystemExit("usage: python -m app.cli {serve,load} ...")
    if argv[0] == "serve":
        serve(argv[1:])
        return
    raise SystemExit(run_load(load_parser().parse_args(argv[1:])))


if __name__ == "__main__":
    main()
