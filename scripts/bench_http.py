#!/usr/bin/env python
"""Search latency through a running service (HTTP): one space against all spaces fused, interleaved
per query in the same run, so the ratio is fair. Usage: scripts/bench_http.py DATASET [--url U]."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import httpx

PLANS = {
    "document only": {"fields": ["document"]},
    "title only": {"fields": ["title"]},
    "all spaces fused (dbsf)": {"fusion": "dbsf"},
    "all spaces fused (rrf)": {"fusion": "rrf"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path, help="BEIR folder (its queries.jsonl are sent)")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args()
    with (args.dataset / "queries.jsonl").open() as f:
        queries = [json.loads(line)["text"][:2000] for line in f if line.strip()][:200]
    latencies: dict[str, list[float]] = {name: [] for name in PLANS}
    with httpx.Client(base_url=args.url, timeout=60) as client:
        for q in queries[:5]:  # warm-up
            for plan in PLANS.values():
                client.post("/search", json={"query": q, **plan})
        for _ in range(args.repeat):
            for q in queries:
                for name, plan in PLANS.items():
                    t = time.perf_counter()
                    r = client.post("/search", json={"query": q, "limit": args.limit, **plan})
                    latencies[name].append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
    base = sorted(latencies["document only"])[len(latencies["document only"]) // 2]
    print(f"{'plan':26s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'p50 / document':>15s}")
    for name, values in latencies.items():
        values.sort()
        p50, p95 = values[len(values) // 2], values[int(len(values) * 0.95)]
        print(f"{name:26s} {len(values):5d} {p50:8.1f} {p95:8.1f} {p50 / base:15.2f}")


if __name__ == "__main__":
    main()
