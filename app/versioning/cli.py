"""`scripts/migrate`: migration steps on the store directly (service stopped) or through the service's admin API."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.arg_types import number, whole
from app.domain.gates import parse_duration
from app.errors import AppError, Conflict
from app.progress import Progress
from app.settings_checks import out_folder, parse_checked, url_arg
from app.versioning.backends_cli import Local, Remote
from app.versioning.declare import Migration, ancestry, default_folder, load_folder
from app.versioning.render import result_lines, status_lines
from app.versioning.steps import DEFAULT_BATCH
from app.versioning.validate import QuerySet, load_query_set, report_text, write_report

REFUSED = 2


def _migrations(folder: Path) -> list[Migration]:
    return load_folder(folder)


def _bar(total: int, desc: str, lines: bool) -> Callable[[int, int], None]:
    """A tqdm bar with docs/s on a terminal; plain progress lines otherwise (logs, tests)."""
    return Progress(total, desc, lines=lines)


def _grace(text: str) -> float:
    """An argparse type: a duration with its unit (`30m`, `24h`, `7d`) in seconds; a bare number is refused
    (`24` meant 24 seconds to the parser and 24 hours to the operator who typed it)."""
    if text.strip().replace(".", "", 1).isdigit():
        raise argparse.ArgumentTypeError(f"{text.strip()!r} has no unit: add s, m, h or d (e.g. {text.strip()}h)")
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parser() -> argparse.ArgumentParser:
    """The command line: global options (`--url`, `--token`, `--dir`), then one subcommand per step."""
    p = argparse.ArgumentParser(prog="scripts/migrate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", type=url_arg, help="go through the running service's admin API (needed while it "
                   "holds an embedded data folder; default: MULTIVEC_SERVICE_URL); without either, the store is "
                   "opened from Settings()")
    p.add_argument("--token", default=os.environ.get("MULTIVEC_ADMIN_TOKEN"), help="admin token (default: env)")
    p.add_argument("--dir", type=Path, default=default_folder(), help="the migrations folder")
    sub = p.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name: str, help_: str, target: bool = True) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help_, description=help_)
        if target:
            s.add_argument("target", nargs="?", help="migration revision (0001), label, or the version it adds; "
                                                     "default: the latest applied")
        s.add_argument("--dry-run", action="store_true", help="check preconditions, say what would happen, write "
                                                              "nothing")
        return s

    step("plan", "each migration: applied (and its next step) or pending; what apply would do", target=False)
    s = step("apply", "apply pending migrations in order (up to TARGET)")
    s = step("status", "versions with coverage, applied migrations, rebuild in progress", target=False)
    s = step("backfill", "encode the new version for every point lacking it (resumable)")
    s.add_argument("--batch", type=whole(1, 4096), default=DEFAULT_BATCH,
                   help="points per batch (default %(default)s; larger batches encode faster)")
    s.add_argument("--max-points", type=whole(1), default=None, help="stop after this many points")
    s.add_argument("--progress", choices=("bar", "lines", "none"), default=None,
                   help="default: a bar on a terminal, lines otherwise")
    s = step("validate", "compare live and candidate on a query set; write the report")
    s.add_argument("--queries", type=Path, help="canary queries: JSONL (query, id, relevant) or one per line")
    s.add_argument("--qrels", type=Path, help="BEIR qrels TSV for --queries")
    s.add_argument("--beir", type=Path, help="a BEIR folder: queries.jsonl and qrels/<split>.tsv")
    s.add_argument("--split", help="qrels split (default: test, dev, then train)")
    s.add_argument("--limit", type=whole(0), default=0, help="use the first N queries")
    s.add_argument("--k", type=whole(1, 100), default=10, help="ranks compared (1-100, default 10)")
    s.add_argument("--out", type=out_folder, default=Path("reports/migrations"), help="report folder")
    s.add_argument("--force", action="store_true", help="validate below 100 %% coverage")
    s = step("promote", "make the new version live (one registry write; an alias swap for a rebuild)")
    s.add_argument("--margin", type=number(minimum=0, maximum=1), default=0.02,
                   help="allowed loss of nDCG@10 (absolute), in the fused search and in the space alone")
    s.add_argument("--force", action="store_true", help="promote past the gate (recorded with the migration)")
    s.add_argument("--percent", type=whole(1, 99), default=None, metavar="N",
                   help="a gradual rollout: send N %% (1-99) of live searches, picked by a stable hash of the "
                        "query, to the new version; promote without it (or rollback) ends the rollout")
    step("rollback", "make the previous version live again (or end a rollout)")
    s = step("retire", "delete the version (or collection) no longer live, after the grace period")
    s.add_argument("--grace", type=_grace, default="24h",
                   help="how long after it stopped being live, with its unit s, m, h or d (e.g. 30m, 24h, 7d)")
    s.add_argument("--force", action="store_true",
                   help="retire within the grace period (recorded with the migration)")
    return p


def main(argv: list[str] | None = None, *, backend: Local | Remote | None = None) -> int:
    """Run one step; returns the exit code (0 done or nothing to do, 1 error, 2 refused by a precondition)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_checked(parser(), argv)  # the default --out of validate checked too
    try:
        migrations = _migrations(args.dir) if args.step in ("plan", "apply") else []
        query_set = _query_set(args) if args.step == "validate" else None
    except AppError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    if args.step == "apply" and args.target and not _wanted(migrations, args.target):  # before opening the store
        print(f"error: no migration file matches {args.target!r} in {args.dir}", file=sys.stderr)
        return REFUSED
    if backend is None:
        backend = _backend(args, argv)
    try:
        return _run(backend, args, migrations, query_set)
    except Conflict as e:
        print(e.message, file=sys.stderr)
        return REFUSED
    except AppError as e:
        print(f"error ({e.code}): {e.message}", file=sys.stderr)
        return 1
    finally:
        backend.close()


def _wanted(migrations: list[Migration], target: str | None) -> list[Migration]:
    """The migration files `target` names (by revision or label); every one when there is no target."""
    return [m for m in migrations if target in (m.revision, m.label)] if target else migrations


def _backend(args: argparse.Namespace, argv: list[str]) -> Local | Remote:
    """Through the service when `--url` or the setting `service_url` (MULTIVEC_SERVICE_URL) names it; else local."""
    if args.url:
        return Remote(args.url, args.token)
    from app.settings import Settings

    settings = Settings()
    if settings.service_url:
        return Remote(settings.service_url, args.token)
    return Local(argv, settings)


def _query_set(args: argparse.Namespace) -> QuerySet:
    return load_query_set(queries=args.queries, qrels=args.qrels, beir=args.beir, split=args.split, limit=args.limit)


def _show(result: dict[str, Any]) -> None:
    print("\n".join(result_lines(result)))


def _run(backend: Local | Remote, args: argparse.Namespace, migrations: list[Migration],
         query_set: QuerySet | None) -> int:
    common = {"dry_run": getattr(args, "dry_run", False)}
    if args.step == "status":
        print("\n".join(status_lines(backend.status())))
        return 0
    if args.step == "plan":
        result = backend.step("plan", migrations=[m.to_dict() for m in migrations])
        rows = result["data"]["migrations"]
        from app.versioning.render import table

        print("\n".join(table(["revision", "state", "next step", "change"],
                              [[r["label"], r["state"], r["next"], r["description"]] for r in rows])))
        print()
        for note in result["notes"]:
            print(note)
        for action in result["actions"]:
            print(f"  would: {action}")
        return 0
    if args.step == "apply":
        # a file whose revision is applied with another change (another file, or this one edited since) is sent too:
        # apply refuses it, naming both (it was "nothing to do" and never ran: two break tests)
        rows = {row["revision"]: row for row in backend.status()["migrations"]}
        applied = {m.revision for m in migrations if m.revision in rows
                   and rows[m.revision].get("change", m.to_dict()["change"]) == m.to_dict()["change"]}
        upto = ancestry(migrations, _wanted(migrations, args.target)[0]) if args.target else migrations
        todo = [m for m in upto if m.revision not in applied]
        if not todo:
            print("apply\n  nothing to do: every migration is applied")
        elif common["dry_run"]:  # one call: each is previewed as if the ones before it were applied
            chain = backend.step("apply", migrations=[m.to_dict() for m in todo], **common)["data"]["migrations"]
            for result in chain:
                _show(result)
            return REFUSED if any(r["data"].get("refused") for r in chain) else 0
        for m in todo:
            _show(backend.step("apply", migration=m.to_dict(), **common))
        return 0
    target = args.target
    if args.step == "backfill":
        mode = args.progress or ("bar" if sys.stderr.isatty() else "lines")
        progress = None if mode == "none" else _bar(0, "backfill", lines=mode == "lines")
        result = backend.step("backfill", target=target, batch=args.batch, max_points=args.max_points,
                              progress=progress, **common)
    elif args.step == "validate":
        assert query_set is not None
        show = sys.stderr.isatty() and not common["dry_run"] and isinstance(backend, Local)
        progress = _bar(len(query_set.queries), "validate", lines=False) if show else None
        result = backend.step("validate", target=target, query_set=query_set.to_dict(), k=args.k,
                              force=args.force, progress=progress, **common)
        report = result.get("data", {}).get("report")
        if report:
            md, js = write_report(report, args.out)
            print("\n".join(report_text(report)))
            print(f"\nreport: {md}\n        {js}")
            print("\n".join(result_lines({**result, "notes": []})))
            return 0
    elif args.step == "promote":
        rollout = {"percent": args.percent} if args.percent is not None else {}
        result = backend.step("promote", target=target, margin=args.margin, force=args.force, **rollout, **common)
    elif args.step == "rollback":
        result = backend.step("rollback", target=target, **common)
    elif args.step == "retire":
        untagging = _bar(0, "retire: untag", lines=not sys.stderr.isatty()) if isinstance(backend, Local) else None
        result = backend.step("retire", target=target, grace_s=args.grace, force=args.force,
                              progress=untagging, **common)
    else:
        raise SystemExit(f"unknown step {args.step}")
    _show(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

