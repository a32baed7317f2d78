"""Backfill throughput against the bare encoder on the same texts (scripts/bench_backfill)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.versioning.render import table


def main(argv: list[str] | None = None) -> int:
    """`scripts/bench_backfill CORPUS`: index up to `--limit` documents (title space only) in a temporary store,
    time the first migration's encoder bare (one call, then `--batch` batches; best CPU of `--repeat`) and its
    backfill on the same titles, and print wall and CPU seconds and documents per second. Returns 0."""
    p = argparse.ArgumentParser(prog="scripts/bench_backfill", description=__doc__)
    p.add_argument("corpus", type=Path, help="a BEIR folder or corpus.jsonl")
    p.add_argument("--limit", type=int, default=2000, help="documents to index (title space only)")
    p.add_argument("--batch", type=int, default=256, help="backfill batch size")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of the bare encoder (best is kept)")
    args = p.parse_args(argv)

    from app.container import build_services
    from app.corpus import read_corpus
    from app.domain.documents import Document
    from app.loader import batched
    from app.settings import Settings, SpaceSettings, StoreSettings
    from app.versioning.declare import AddVersion, default_folder, load_folder

    docs = list(read_corpus(args.corpus))[: args.limit]
    titles = [d["title"] or d["body"][:80] for d in docs]
    migration = load_folder(default_folder())[0]
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        settings = Settings(store=StoreSettings(path=Path(tmp) / "data"),
                            spaces=[SpaceSettings(name="title", field="title", kind="dense", model="minilm-l6-int8")])
        svc = build_services(settings)
        try:
            print(f"indexing {len(docs)} documents (title space only) into {tmp} ...", file=sys.stderr)
            for batch in batched(iter(docs), 256):
                svc.ingest.upsert([Document(id=d["id"], title=d["title"] or d["body"][:80], body=d["body"])
                                   for d in batch])
            encoder = svc.encoders.get(migration.change.model)  # type: ignore[union-attr]
            encoder.embed(titles[:64])  # load and warm the model before timing

            def timed(fn: Callable[[], object]) -> tuple[float, float]:
                """(wall, CPU) seconds; CPU counts every thread of this process, so it is less
                disturbed than wall time by other jobs on a shared machine."""
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                return time.perf_counter() - w0, time.process_time() - c0

            def best(fn: Callable[[], object]) -> tuple[float, float]:
                return min((timed(fn) for _ in range(args.repeat)), key=lambda t: t[1])

            one_call = best(lambda: encoder.embed(titles))
            batches = best(lambda: [encoder.embed(titles[i:i + args.batch]) for i in range(0, len(titles),
                                                                                              args.batch)])
            migrator = svc.migrator
            migrator.apply(migration)
            backfill = timed(lambda: migrator.backfill(batch=args.batch))
            assert isinstance(migration.change, AddVersion)
            assert migrator.coverage(migration.change.vector_name).complete
        finally:
            svc.close()
    n = len(titles)

    def row(name: str, t: tuple[float, float]) -> list[object]:
        wall, cpu = t
        return [name, n, f"{wall:.2f}", f"{n / wall:.0f}", f"{cpu:.2f}", f"{n / cpu:.0f}", f"{cpu / one_call[1]:.2f}"]

    rows = [row("bare encoder, one call", one_call), row(f"bare encoder, batches of {args.batch}", batches),
            row(f"backfill (batch {args.batch}, edge)", backfill)]
    print(f"model {migration.change.model}, {n} titles from {args.corpus}")  # type: ignore[union-attr]
    print("\n".join(table(["run", "docs", "wall s", "docs/s", "CPU s", "docs/CPU s", "CPU x bare"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
