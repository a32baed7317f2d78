"""`scripts/evaluate install`: copy a fitted ranking profile, thresholds or query router into a store's meta."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path


def install(argv: Sequence[str]) -> None:
    """Copy a profile and/or thresholds (JSON written by evaluate) into a store's meta."""
    from app.domain.profiles import RankingProfile, VersionThreshold
    from app.domain.router import QueryRouter
    from app.eval.args import out_folder
    from app.eval.index import eval_settings
    from app.repos.profiles import ProfileRepo
    from app.settings import Settings
    from app.store.factory import open_store

    p = argparse.ArgumentParser(prog="evaluate install")
    p.add_argument("--index-dir", type=out_folder, help="embedded store folder (default: the configured store)")
    p.add_argument("--profile", type=Path)
    p.add_argument("--thresholds", type=Path)
    p.add_argument("--router", type=Path, help="a router.json written by --fit-router")
    args = p.parse_args(list(argv))  # a --index-dir that is a file: one line, exit status 2, as for evaluate
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
        if args.router:
            version = repo.save_router(QueryRouter.from_dict(json.loads(args.router.read_text())))
            print(f"stored router in {repo.profile_key} (version {version})")
    finally:
        store.close()
