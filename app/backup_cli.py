"""`scripts/backup` and `scripts/restore`: on the store from Settings() (service stopped) or through the service.

With `--url` (or MULTIVEC_SERVICE_URL) the work runs in the service's process (`POST /admin/backup`,
`POST /admin/restore`), which is the only way while it holds an embedded data folder; the backup is then a
folder named under the service's backup folder (`MULTIVEC_BACKUP_DIR`). Otherwise the command opens the
store itself and the backup is any folder, read against the directory the command was called from.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from app.errors import StoreLocked
from app.launch import from_caller
from app.settings_checks import a_folder, url_arg, writable
from app.store.folder import through_service


def parser(action: str) -> argparse.ArgumentParser:
    """The command line of `scripts/backup` (`action` "backup") or `scripts/restore` ("restore")."""
    p = argparse.ArgumentParser(prog=f"scripts/{action}", description=(
        "Back up every collection, the registry (meta) and the aliases into a new folder, with a manifest."
        if action == "backup" else
        "Restore a backup: every collection, the registry and the aliases; refused (409) when the store holds "
        "documents, unless --force."))
    if action == "backup":
        p.add_argument("folder", nargs="?", help="a new folder (default: MULTIVEC_BACKUP_DIR/multivec-<UTC time>); "
                                                 "with --url, a folder name under the service's backup folder")
    else:
        p.add_argument("folder", nargs="?", help="the backup folder (with --url: its name under the service's "
                                                 "backup folder)")
        p.add_argument("--latest", action="store_true", help="the newest backup under MULTIVEC_BACKUP_DIR")
        p.add_argument("--force", action="store_true", help="replace a store that holds documents")
    p.add_argument("--url", type=url_arg, help="go through the running service's admin API (needed while it "
                                 "holds an embedded data folder; default: MULTIVEC_SERVICE_URL)")
    p.add_argument("--token", default=os.environ.get("MULTIVEC_ADMIN_TOKEN"), help="admin token (default: env)")
    return p


def _local_folder(text: str | None, action: str) -> Path | None:
    """The backup folder argument, read against the caller's folder as every path argument is (app.launch).

    Raises:
        SystemExit: exit status 2 after one line, when it is blank or names a file, or (a backup's) when
            nothing can be written there: before the store is opened or anything is copied.
    """
    if text is None:
        return None
    try:
        folder = a_folder(from_caller(Path(os.environ.get("MULTIVEC_CALLER_DIR") or os.getcwd()))(text))
        return writable(folder) if action == "backup" else folder
    except (ValueError, argparse.ArgumentTypeError) as e:
        print(f"scripts/{action}: backup folder: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_local(action: str, args: argparse.Namespace) -> dict[str, Any]:
    """Open the store from Settings() and back up or restore in this process."""
    from app.services.backup import BackupService, latest
    from app.settings import Settings
    from app.store.factory import collection_config, open_store

    settings = Settings()
    folder = _local_folder(args.folder, action)  # refused before the store is opened
    try:
        store = open_store(settings.store)
    except StoreLocked as e:
        command = through_service(e, settings.service_url, f"scripts/{action} --url {{url}} ...")
        raise SystemExit(f"scripts/{action}: {e.message} Run it through the service (or set "
                         f"MULTIVEC_SERVICE_URL):\n  {command}") from None
    try:
        service = BackupService(store=store, root=settings.backup_dir, config=collection_config(settings.collection))
        if action == "backup":
            return service.backup(folder, progress=_progress).as_dict()
        if args.latest:
            passed: list[Path] = []

            def skip(backup: Path, why: str) -> None:
                passed.append(backup)
                print(f"scripts/restore: skipped backup {backup}: {why}", file=sys.stderr)

            folder = latest(settings.backup_dir, skipped=skip)
            if folder is None:
                raise SystemExit(f"scripts/restore: no readable backup under {settings.backup_dir.resolve()}"
                                 + (f" ({len(passed)} skipped, above)" if passed else ""))
            print(f"scripts/restore: --latest is {folder}", file=sys.stderr)
        if folder is None:
            raise SystemExit("scripts/restore: name the backup folder, or --latest")
        return service.restore(folder, force=args.force, progress=_progress).as_dict()
    finally:
        store.close()


def run_remote(action: str, args: argparse.Namespace, url: str) -> dict[str, Any]:
    """POST /admin/backup or /admin/restore on the running service."""
    import httpx

    from app.api.schemas import BACKUP_NAME

    name = args.folder
    if action == "restore" and args.latest:
        given, undo = ("--url", "drop --url") if args.url else ("MULTIVEC_SERVICE_URL", "unset MULTIVEC_SERVICE_URL")
        raise SystemExit(f"scripts/restore: --latest picks from this machine's backup folder, but {given} sends the "
                         f"restore to the service at {url}, which restores a backup by name: run scripts/restore "
                         "NAME (POST /admin/restore {\"name\": NAME}, NAME a folder under the service's "
                         f"MULTIVEC_BACKUP_DIR), or stop the service and {undo} to restore --latest here")
    if name is not None and not re.match(BACKUP_NAME, name):
        raise SystemExit(f"scripts/{action}: with --url, name a folder under the service's backup folder "
                         f"(letters, digits, . _ -), not a path: {name!r}")
    if action == "restore" and name is None:
        raise SystemExit("scripts/restore: name the backup to restore")
    body: dict[str, Any] = {"name": name} if name else {}
    if action == "restore":
        body["force"] = bool(args.force)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    _progress(f"{action} through {url} ...")
    try:
        r = httpx.post(f"{url.rstrip('/')}/admin/{action}", json=body, headers=headers, timeout=None)
    except httpx.TransportError as e:
        raise SystemExit(f"scripts/{action}: cannot reach the service at {url}: {e}") from None
    try:
        answer = r.json()
    except ValueError:
        answer = {"message": r.text}
    if r.status_code != 200:
        raise SystemExit(f"scripts/{action}: {url} answered {r.status_code} "
                         f"{answer.get('code', '')}: {answer.get('message', r.text)}")
    for name_, points in answer["collections"].items():
        _progress(f"  {name_}: {points} points ({answer['formats'].get(name_)})")
    return answer  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    """`python -m app.backup_cli backup|restore [args]`; the summary line on stdout, progress on stderr."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("backup", "restore"):
        print("usage: python -m app.backup_cli backup|restore [args...]", file=sys.stderr)
        return 2
    action, rest = argv[0], argv[1:]
    args = parser(action).parse_args(rest)
    url = args.url
    if url is None:
        from app.settings import Settings

        url = Settings().service_url
    answer = run_remote(action, args, url) if url else run_local(action, args)
    print(answer["summary"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
