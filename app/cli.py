"""Operator commands: `serve` and `load` (scripts/serve, scripts/load call these)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_corpus(path: Path) -> Iterator[dict[str, Any]]:
    """Documents from a JSONL file or a BEIR folder (`corpus.jsonl` with `_id`, `title`, `text`)."""
    file = path / "corpus.jsonl" if path.is_dir() else path
    if not file.exists():
        raise SystemExit(f"no corpus at {file}")
    with file.open() as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{file}:{n}: not JSON: {e}") from e
            doc = {
                "id": str(raw.get("id", raw.get("_id"))),
                "title": raw.get("title") or "",
                "body": raw.get("body", raw.get("text")) or "",
                "metadata": raw.get("metadata") or {},
            }
            for key in ("summary", "entities"):
                if raw.get(key):
                    doc[key] = raw[key]
            yield doc


def batched(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    docs = list(read_corpus(Path(args.path)))
    if args.limit:
        docs = docs[: args.limit]
    t0 = time.perf_counter()
    written = 0
    bar = tqdm(total=len(docs), unit="doc", desc="load", file=sys.stderr)
    if args.direct:
        from app.container import build_services
        from app.domain.documents import Document
        from app.settings import Settings

        services = build_services(Settings())
        try:
            for batch in batched(iter(docs), args.batch):
                services.ingest.upsert([Document.from_dict(d) for d in batch])
                written += len(batch)
                bar.update(len(batch))
            bar.set_postfix_str("optimizing")
            services.store.optimize(services.registry.physical())
        finally:
            services.close()
    else:
        import httpx

        with httpx.Client(base_url=args.url, timeout=600, headers=_api_headers()) as client:
            for batch in batched(iter(docs), args.batch):
                r = client.post("/documents", json={"documents": batch})
                if r.status_code != 200:
                    bar.close()
                    raise SystemExit(f"batch starting {batch[0]['id']!r} refused: {r.status_code} {r.text}")
                written += len(batch)
                bar.update(len(batch))
            client.post("/admin/optimize", headers=_admin_headers())
    bar.close()
    elapsed = time.perf_counter() - t0
    print(f"loaded {written} documents in {elapsed:.1f} s: {written / elapsed:.1f} docs/s", file=sys.stderr)


def _admin_headers() -> dict[str, str]:
    from app.settings import Settings

    token = Settings().admin_token
    return {"Authorization": f"Bearer {token}"} if token else {}


def _api_headers() -> dict[str, str]:
    """The read-write API key (MULTIVEC_API_KEY), for writes through the service."""
    from app.settings import Settings

    key = Settings().api_key
    return {"api-key": key} if key else {}


def serve(argv: list[str] | None = None) -> None:
    """Start the service, after refusing an open bind: no API key on a non-loopback host.

    Raises:
        SystemExit: one line saying why, before any store or model is opened, when the bind is refused.
    """
    from app.api.auth import open_bind_refusal
    from app.settings import Settings

    parser = argparse.ArgumentParser(prog="serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--allow-open", action="store_true",
                        help="serve on a non-loopback host with no API key (as MULTIVEC_ALLOW_OPEN=true)")
    args = parser.parse_args(argv)
    refusal = open_bind_refusal(args.host, Settings(), allow_open=args.allow_open)
    if refusal:
        raise SystemExit(f"serve: {refusal}")

    import uvicorn

    uvicorn.run("app.asgi:create_app", factory=True, host=args.host, port=args.port, workers=1)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("serve", "load"):
        raise SystemExit("usage: python -m app.cli {serve,load} ...")
    if argv[0] == "serve":
        serve(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="load", description="Load a JSONL or BEIR-layout corpus.")
    parser.add_argument("path", help="a corpus.jsonl file or a BEIR folder")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running service")
    parser.add_argument("--direct", action="store_true", help="write to the store directly (service stopped)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--limit", type=int, default=0)
    load(parser.parse_args(argv[1:]))


if __name__ == "__main__":
    main()
