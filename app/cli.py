"""Operator commands: `load` (scripts/load), and `serve` (scripts/serve; app.serve_cli) dispatched from here."""

from __future__ import annotations

import argparse
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
    BatchLimits,
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
from app.progress import Progress

# the serve command lives in app.serve_cli; re-exported here, where `python -m app.cli serve` finds it
from app.serve_cli import _port, _positive, local_url, serve, serve_parser  # noqa: F401

__all__ = ["batched", "local_url", "main", "read_corpus", "run_load", "serve", "serve_parser"]


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
    parser.add_argument("--batch", type=_positive, default=64,
                        help="at most this many documents per request (default 64); fewer when the service's "
                             "limits on documents or characters of text per request call for it")
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


def _limits(writer: Writer, args: argparse.Namespace) -> BatchLimits:
    """The service's limits on one request (the default settings' when it does not say); one line when --batch
    is more than a request may hold."""
    from app.settings import LimitSettings

    limits = writer.limits(BatchLimits.of(LimitSettings()))
    if args.batch > limits.documents:
        _say(f"load: --batch {args.batch} is over the service's limit of {limits.documents} documents a request: "
             f"sending at most {limits.documents}")
    return limits


def _load(writer: Writer, records: list[Record], args: argparse.Namespace) -> int:
    """Send the records with a progress bar (plain lines every 10 s when stderr is no terminal); the report
    (skipped, counts, rate) is printed however it ends."""
    bar = Progress(len(records), "load", lines=not sys.stderr.isatty(), file=sys.stderr, every_s=10.0)
    handled = 0

    def advance(n: int) -> None:
        nonlocal handled
        handled += n
        bar(handled, len(records))

    loader = Loader(writer, skip_invalid=args.skip_invalid, progress=advance)
    try:
        report = loader.run(records, batch_size=args.batch, limits=lambda: _limits(writer, args))
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
    bar.close()
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
