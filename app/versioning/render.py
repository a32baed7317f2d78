"""Plain-text output for operators: aligned tables, the status view, a step's result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: str = "") -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows if row[i] not in (None, "")) for i in
               range(len(headers))]

    def line(values: Sequence[str], header: bool = False) -> str:
        parts = [v.rjust(w) if numeric[i] and not header else v.ljust(w)
                 for i, (v, w) in enumerate(zip(values, widths, strict=True))]
        return (indent + "  ".join(parts)).rstrip()

    out = [line(list(headers), header=True), indent + "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return out


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown (pipe) table, one string per line; None shows as `-`, floats with 4 decimals."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return out


def _is_number(v: Any) -> bool:
    return (isinstance(v, int | float) and not isinstance(v, bool)) or (isinstance(v, str) and _looks_numeric(v))


def _looks_numeric(v: str) -> bool:
    t = v.replace("%", "").replace("/", "").replace("+", "").replace("-", "").replace(".", "").strip()
    return bool(t) and t.replace(" ", "").isdigit()


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def status_lines(data: dict[str, Any]) -> list[str]:
    """The `status` view: where the alias points, each version with its coverage, migrations, rebuild."""
    out = [f"collection {data['alias']} -> {data['physical']}   points {data['points']}   "
           f"registry revision {data['revision']}", ""]
    rows = []
    for v in data["versions"]:
        role = "live" if v["live"] else ("rollback" if v["previous"] else "")
        if v.get("rollout"):
            role = f"rollout {v['rollout']} %"
        coverage = f"{v['covered']}/{v['total']}" if v["covered"] is not None else "-"
        pct = f"{v['percent']:.1f} %" if v["percent"] is not None else "-"
        rows.append([v["space"], v["version"], v["status"], role, v["model"], v["dim"] or "-",
                     v["distance"] if v["dim"] else "-", v.get("datatype") or "-",
                     coverage, pct, (v["status_changed"] or "")[:16].replace("T", " ")])
    out += table(["space", "version", "status", "alias", "model", "dim", "distance", "datatype", "coverage", "",
                  "since (UTC)"], rows)
    migrations = data.get("migrations") or []
    out += ["", "migrations"]
    if migrations:
        out += table(["revision", "state", "next step", "change"],
                     [[m["label"], m["state"], m["next"], m["description"]] for m in migrations], indent="  ")
    else:
        out.append("  none applied")
    out += override_lines(migrations)
    rebuild = data.get("rebuild")
    if rebuild and rebuild.get("status") != "retired":
        live = "target" if rebuild.get("live") == rebuild.get("target") else "source"
        out += ["", f"rebuild {rebuild.get('migration')}: {rebuild['source']} -> {rebuild['target']}, "
                    f"status {rebuild['status']}, alias on the {live}; ingest writes to both"]
    return out


def override_lines(migrations: Sequence[dict[str, Any]]) -> list[str]:
    """Each gate an operator forced a step past (`--force`) or loosened (`--grace`, `--margin`), as recorded with
    the migration."""
    out: list[str] = []
    for m in migrations:
        for o in m.get("overrides") or []:
            when = str(o.get("at", ""))[:16].replace("T", " ")
            forced = "; ".join(o.get("overrode", []))
            loosened = "; ".join(o.get("loosened", []))
            out.append(f"  {m['label']}: {o['step']} {o.get('target', '')} at {when} UTC"
                       + (f", forced past: {forced}" if forced else "") + (f", gate loosened: {loosened}"
                                                                           if loosened else ""))
    return ["", "overrides (--force, --grace, --margin)", *out] if out else []


def result_lines(result: dict[str, Any]) -> list[str]:
    """A step's result: what it did (or would do, in a dry run), and why it did nothing."""
    head = f"{result['step']} {result.get('target') or ''}".rstrip()
    if result.get("dry_run"):
        head += "  (dry run: nothing written)"
    out = [head]
    verb = "would" if result.get("dry_run") else "did"
    for action in result.get("actions", []):
        out.append(f"  {verb}: {action}")
    for note in result.get("notes", []):
        out.append(f"  {note}")
    if not result.get("actions"):
        out.append("  nothing to do")
    return out
