"""`scripts/evaluate install`: copy a fitted ranking profile, thresholds or query router into a store's meta.

A router that scored below the default ranking it would replace (router.json's `metrics.vs_default`, written
by `scripts/evaluate --fit-router`) is refused in one line (exit status 2) unless `--force` is given; one
that records no such comparison is installed with a warning.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def install(argv: Sequence[str]) -> None:
    """Copy a profile and/or thresholds (JSON written by evaluate) into a store's meta."""
    from app.domain.profiles import RankingProfile, VersionThreshold
    from app.domain.router import QueryRouter
    from app.eval.args import out_folder
    from app.eval.index import eval_settings
    from app.eval.router_fit import below_default
    from app.repos.profiles import ProfileRepo
    from app.settings import Settings
    from app.store.factory import open_store

    p = argparse.ArgumentParser(prog="evaluate install")
    p.add_argument("--index-dir", type=out_folder, help="embedded store folder (default: the configured store)")
    p.add_argument("--profile", type=Path)
    p.add_argument("--thresholds", type=Path)
    p.add_argument("--router", type=Path, help="a router.json written by --fit-router")
    p.add_argument("--force", action="store_true", help="install a router that scored below its default ranking")
    args = p.parse_args(list(argv))  # a --index-dir that is a file: one line, exit status 2, as for evaluate
    router = QueryRouter.from_dict(json.loads(args.router.read_text())) if args.router else None
    why = below_default(router) if router is not None else None
    if why and not args.force:
        p.error(f"argument --router: not installed: {why}; --force installs it anyway")
    settings = eval_settings(args.index_dir) if args.index_dir else Settings()
    store = open_store(settings.store, settings.collection)
    try:
        repo = ProfileRepo(store=store, alias=settings.store.collection)
        if args.profile:
            stored = repo.save_profile(RankingProfile.from_dict(json.loads(args.profile.read_text())))
            print(f"stored profile {stored.id} as {repo.profile_key}")
        if args.thresholds:
            data = json.loads(args.thresholds.read_text())["versions"]
            repo.save_thresholds({n: VersionThreshold.from_dict(t) for n, t in data.items()})
            print(f"stored thresholds for {sorted(data)} as {repo.thresholds_key}")
        if router is not None:
            version = repo.save_router(router)
            print(f"stored router in {repo.profile_key} (version {version})")
            if why:
                print(f"evaluate install: warning: --force: {why}", file=sys.stderr)
            elif "vs_default" not in router.metrics:
                print(f"evaluate install: warning: {args.router} records no comparison with the default ranking "
                      "(fitted before it was measured): installed unchecked", file=sys.stderr)
    finally:
        store.close()
