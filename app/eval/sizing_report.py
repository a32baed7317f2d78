"""`scripts/bench_sizing`'s report: bytes per document, the projection to a corpus size, the markdown."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

HNSW_M = 16
GRAPH_BYTES = 2 * HNSW_M * 4 * HNSW_M // (HNSW_M - 1)  # layer 0 holds 2m links of 4 B, upper layers add 1/(m-1)
NODE_RAM_GIB = 64  # a node of the projection: 64 GiB of RAM, of which 75 % for the collection


def per_document(r: dict[str, Any]) -> dict[str, float]:
    """Bytes per document by part, from the measured vector counts and the unquantized shard's disk."""
    n = r["sample"]
    disk = r["variants"]["none"]["disk"]
    counts = r["vectors_per_doc"]
    dense = {k: c for k, c in counts.items() if c["kind"] != "sparse"}
    rows = sum(c["mean"] for c in dense.values())
    dim = next(iter(dense.values()))["dim"]
    sparse_names = [k for k, c in counts.items() if c["kind"] == "sparse"]
    return {
        "dense_vectors": rows,
        "float32": rows * dim * 4,
        "scalar": rows * (dim + 4),  # int8 per dimension and one float correction per vector
        "binary": rows * dim / 8,
        "graph": len(dense) * GRAPH_BYTES,  # one graph node per point per dense or multi named vector
        "graph_measured": sum(disk[k].get("index", 0) for k in dense) / n,
        "sparse": sum(sum(disk[k].values()) for k in sparse_names if k in disk) / n,
        "payload": r["payload_json_bytes_per_doc"],
    }


def projection(r: dict[str, Any], docs: int, replication: int = 2) -> list[dict[str, Any]]:
    """RAM and disk for `docs` documents under three layouts, and nodes of NODE_RAM_GIB needed with `replication`."""
    d = per_document(r)
    layouts = {
        "all in RAM, no quantization": (d["float32"] + d["graph"] + d["sparse"] + d["payload"], 0.0),
        "scalar in RAM; vectors, payload on disk": (d["scalar"] + d["graph"] + d["sparse"],
                                                    d["float32"] + d["payload"]),
        "binary in RAM; vectors, payload on disk": (d["binary"] + d["graph"] + d["sparse"],
                                                    d["float32"] + d["payload"]),
    }
    out = []
    for name, (ram, disk) in layouts.items():
        ram_total, disk_total = ram * docs, (ram + disk) * docs  # what is in RAM is on disk too
        nodes = max(1, -(-ram_total * replication // (NODE_RAM_GIB * 0.75 * 2**30)))
        out.append({"layout": name, "ram_per_doc": ram, "ram_gib": ram_total / 2**30,
                    "disk_gib": disk_total / 2**30, "nodes": int(nodes)})
    return out


def render(r: dict[str, Any]) -> str:
    """The sizing result `r` (as `run` returns it and sizing.json holds it) as markdown."""
    n = r["sample"]
    times = r.get("copies", 1)
    encoded = r["docs_per_s"] == r["docs_per_s"]  # NaN when an earlier run encoded the sample
    what = f"{n // times} documents, each written {times} times (near-copies)" if times > 1 else f"{n} documents"
    lines = [f"# Sizing: {what}, a seeded sample of {r['corpus_documents']} SciFact documents, all six spaces", "",
             f"Machine: {r['machine']['cpus']} CPUs, load {r['machine']['load_avg_1m']} at start, "
             f"{r['machine']['date']}. " + (f"Encoded at {r['docs_per_s']} docs/s. " if encoded
                                            else "Encoded by an earlier run (kept --work-dir). ") +
             f"Payload: {r['payload_json_bytes_per_doc']} B of JSON per document.", "",
             "## Vectors per document", "", "| named vector | kind | dim | mean per doc | max |",
             "|---|---|---|---|---|"]
    for name, c in r["vectors_per_doc"].items():
        lines.append(f"| `{name}` | {c['kind']} | {c['dim'] or '-'} | {c['mean']:.2f} | {c['max']} |")
    lines += ["", "## On disk, bytes per document (WAL excluded)", "",
              "| variant | " + " | ".join(["vectors", "quantized", "index", "payload", "other", "total", "WAL"]) + " |",
              "|---|" + "---|" * 7]
    for vname, v in r["variants"].items():
        parts: dict[str, int] = defaultdict(int)
        for per in v["disk"].values():
            for part, b in per.items():
                parts[part] += b
        total = sum(b for p, b in parts.items() if p != "wal")
        lines.append(f"| {vname} | " + " | ".join(f"{parts.get(p, 0) / n:,.0f}" for p in
                                                 ("vectors", "quantized", "index", "payload", "other"))
                     + f" | {total / n:,.0f} | {parts.get('wal', 0) / n:,.0f} |")
    lines += ["", "## By space (none / scalar / binary), bytes per document: original vectors + quantized + index", "",
              "| named vector | " + " | ".join(r["variants"]) + " |", "|---|" + "---|" * len(r["variants"])]
    for name in r["vectors_per_doc"]:
        cells = []
        for v in r["variants"].values():
            d = v["disk"].get(name, {})
            cells.append(f"{d.get('vectors', 0) / n:,.0f} + {d.get('quantized', 0) / n:,.0f} + "
                         f"{d.get('index', 0) / n:,.0f}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += ["", "## Resident memory of a fresh process (MiB)", "",
              "| variant | before open | opened | after searches | shard's share | of which anonymous | searches |",
              "|---|---|---|---|---|---|---|"]
    for vname, v in r["variants"].items():
        rss = v["rss"]
        share = (rss["rss_searched_kb"] - rss["rss_before_kb"]) / 1024
        anon = (rss["rss_anon_kb"] - rss["rss_anon_before_kb"]) / 1024 if "rss_anon_kb" in rss else float("nan")
        lines.append(f"| {vname} | {rss['rss_before_kb'] / 1024:.0f} | {rss['rss_opened_kb'] / 1024:.0f} | "
                     f"{rss['rss_searched_kb'] / 1024:.0f} | {share:.0f} | {anon:.0f} | {rss['search_s']} s |")
    dense = [k for k in r["vectors_per_doc"] if r["vectors_per_doc"][k]["kind"] != "sparse"]
    lines += ["", "## Top-10 overlap with the unquantized shard (rescored, real queries)", "",
              "| variant | " + " | ".join(f"`{k.split('.')[0]}`" for k in dense) + " |",
              "|---|" + "---|" * len(dense)]
    for vname, v in r["variants"].items():
        if vname != "none":
            lines.append(f"| {vname} | " + " | ".join(f"{v['top10_overlap_with_none'].get(k, 0):.3f}" for k in dense)
                         + " |")
    d = per_document(r)
    lines += ["", "## Per document, from the counts (bytes)", "",
              f"{d['dense_vectors']:.2f} dense vectors of {next(iter(r['vectors_per_doc'].values()))['dim']} "
              f"dimensions: float32 {d['float32']:,.0f}, scalar {d['scalar']:,.0f}, binary {d['binary']:,.0f}; "
              f"HNSW graph (m={HNSW_M}, uncompressed bound) {d['graph']:,.0f} (measured, compressed: "
              f"{d['graph_measured']:,.0f}); sparse `keywords` {d['sparse']:,.0f}; payload {d['payload']:,.0f}.", ""]
    for docs in (10_000_000, 100_000_000):
        lines += [f"### {docs:,} documents, replication factor 2, nodes of {NODE_RAM_GIB} GiB RAM (75 % usable)", "",
                  "| layout | RAM per doc (B) | RAM, one copy (GiB) | disk, one copy (GiB) | nodes |",
                  "|---|---|---|---|---|"]
        for p in projection(r, docs):
            lines.append(f"| {p['layout']} | {p['ram_per_doc']:,.0f} | {p['ram_gib']:,.0f} | {p['disk_gib']:,.0f} | "
                         f"{p['nodes']} |")
        lines.append("")
    return "\n".join(lines) + "\n"
