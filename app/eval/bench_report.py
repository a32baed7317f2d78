"""`scripts/bench`'s report: markdown tables of ingest rates and search latencies, and why a store was skipped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def memory_skip_reason(res: Mapping[str, Any], size: int, limit: int) -> str:
    """Why the in-memory client is not run at `size`, with the cost measured at a smaller size."""
    reason = (f"qdrant-client ':memory:' searches by brute force in Python, so it is not run past "
              f"--memory-max {limit} documents")
    measured = [v for k, v in res["search"].items() if k.endswith(", memory") and "plans" in v
                and v.get("documents", 0) > 0]
    if not measured:
        return reason + "."
    last = max(measured, key=lambda v: v["documents"])
    worst = max(p["store_p50_ms"] for p in last["plans"].values())
    return (reason + f": at {last['documents']} documents it measured {worst:.0f} ms (store p50) per fused "
            f"query; brute force grows linearly, so about {worst * size / last['documents'] / 1000:.1f} s "
            f"per query at {size}.")


def markdown(res: Mapping[str, Any]) -> str:
    """The benchmark document (bench.json's shape) as markdown: ingest docs/s, then per-store latency tables in ms."""
    m = res["machine"]
    lines = [f"# Benchmarks ({m['date']}, {m['cpus']} CPUs, load average {m['load_avg_1m']} at start)", ""]
    ing = res.get("ingest")
    if ing:
        lines += [f"## Ingest ({ing['documents']} real documents)", "", "| what | docs/s | seconds |",
                  "|---|---|---|",
                  f"| bare encoder ({ing['bare_encoder']['model']}, one vector of title+body) | "
                  f"{ing['bare_encoder']['docs_per_s']:.1f} | {ing['bare_encoder']['seconds']:.1f} |",
                  f"| encode all spaces ({ing['encode_all_spaces']['vectors_per_doc']} named vectors, no store) | "
                  f"{ing['encode_all_spaces']['docs_per_s']:.1f} | {ing['encode_all_spaces']['seconds']:.1f} |"]
        for kind in ("edge", "memory"):
            if f"ingest_{kind}" in ing:
                x = ing[f"ingest_{kind}"]
                lines.append(f"| full ingest into {kind} (derive, encode, write, optimise) | {x['docs_per_s']:.1f} | "
                             f"{x['seconds']:.1f} |")
        lines += ["", f"Full ingest (edge) runs at {ing['ratio_full_ingest_edge_vs_bare']:.2f}x the bare "
                  "encoder's rate.", ""]
    for title, block in res.get("search", {}).items():
        lines += [f"## Search: {title}", ""]
        if "skipped" in block:
            lines += [f"Skipped: {block['skipped']}", ""]
            continue
        extra = {k: v for k, v in block.items() if k not in ("plans",) and not isinstance(v, dict)}
        lines += [", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in extra.items()), "",
                  "| plan | store p50 ms | store p95 ms | encode+store p50 ms | encode+store p95 ms | "
                  "store p50 ratio | total p50 ratio |", "|---|---|---|---|---|---|---|"]
        for name, p in block["plans"].items():
            lines.append(f"| {name} | {p['store_p50_ms']:.2f} | {p['store_p95_ms']:.2f} | {p['total_p50_ms']:.2f} | "
                         f"{p['total_p95_ms']:.2f} | {p.get('ratio_store_p50_vs_single', 1.0):.2f} | "
                         f"{p.get('ratio_total_p50_vs_single', 1.0):.2f} |")
        lines.append("")
        lines += fanout_line(block["plans"])
    return "\n".join(lines) + "\n"


def fanout_line(plans: Mapping[str, Any]) -> list[str]:
    """The default plan in fan-out against one batch request, when both were timed (app.eval.bench)."""
    batch, fan = plans.get("default"), plans.get("default, fan-out")
    if not batch or not fan:
        return []
    return [f"Default plan, fan-out / batch: store p50 {fan['store_p50_ms'] / batch['store_p50_ms']:.2f}x, "
            f"p95 {fan['store_p95_ms'] / batch['store_p95_ms']:.2f}x; fan-out answers that missed a space: "
            f"{fan.get('degraded', 0)}.", ""]


def service_markdown(res: Mapping[str, Any]) -> str:
    """The service-load table: documents, docs/s and the server's peak RSS (`bench_service_load`'s result)."""
    peak = res.get("server_peak_rss_mb")
    start = res.get("server_rss_after_start_mb")
    return "\n".join([
        f"### The service while `scripts/load` sends documents ({res.get('points_before') or 0} points before, "
        f"{res['documents']} after)", "",
        "| what | value |", "|---|---|",
        f"| load rate through HTTP | {res['docs_per_s']:.2f} docs/s ({res['seconds']:.0f} s) |",
        f"| server peak RSS (VmHWM) | {f'{peak:.0f} MB' if peak is not None else 'not readable here'} |",
        f"| server peak RSS once started, before the load | "
        f"{f'{start:.0f} MB' if start is not None else 'not readable here'} |",
        "", f"`{res['command']['serve']}` / `{res['command']['load']}`", ""])
