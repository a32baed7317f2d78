"""Migration gates as pure decisions: may a version be promoted, may an old one be retired."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Coverage:
    """How many points carry a vector version (tagged in their payload) out of all points."""

    covered: int
    total: int

    @property
    def complete(self) -> bool:
        """True when every point carries the version."""
        return self.covered >= self.total

    @property
    def percent(self) -> float:
        """Share of points covered, 0-100 (100 for an empty collection)."""
        return 100.0 if self.total == 0 else 100.0 * self.covered / self.total

    def __str__(self) -> str:
        return f"{self.covered}/{self.total} ({self.percent:.1f} %)"


@dataclass(frozen=True)
class Verdict:
    """What a validation found, as far as the promote gate is concerned.

    `baseline` and `candidate` are the gate metric (nDCG@10 of the fused default search) when the
    query set has judgments; without judgments they are None and only `overlap` (overlap@k) is known.
    `others` holds the change of the same metric in every other mode that was run: the migrated
    space alone (`space nDCG@10`; `space <name> nDCG@10` for each space a rebuild changes). The
    gate holds every one of them to the margin: the fused default may weigh the migrated space 0,
    so it alone would not see that space get worse.
    """

    target: str
    metric: str
    baseline: float | None
    candidate: float | None
    overlap: float | None
    queries: int
    created: str = ""
    others: dict[str, float] = field(default_factory=dict)  # delta of the metric in the other modes

    @property
    def judged(self) -> bool:
        """True when both arms have a gate metric (the query set had judgments)."""
        return self.baseline is not None and self.candidate is not None

    @property
    def delta(self) -> float | None:
        """candidate - baseline of the gate metric; None without judgments."""
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline

    @property
    def deltas(self) -> dict[str, float]:
        """Every compared change, by name: the fused default first, then each space alone."""
        if self.delta is None:
            return {}
        return {self.metric: self.delta, **dict(sorted(self.others.items()))}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, as stored in the migration records (`deltas` included for readers)."""
        return {"target": self.target, "metric": self.metric, "baseline": self.baseline,
                "candidate": self.candidate, "overlap": self.overlap, "queries": self.queries,
                "created": self.created, "others": self.others, "deltas": self.deltas}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """Read back `to_dict`'s form (`deltas` is derived, not read)."""
        return cls(target=data["target"], metric=data["metric"], baseline=data.get("baseline"),
                   candidate=data.get("candidate"), overlap=data.get("overlap"),
                   queries=int(data.get("queries", 0)), created=data.get("created", ""),
                   others=dict(data.get("others") or {}))


@dataclass(frozen=True)
class Gate:
    """A decision: allowed or not, the reasons that block it, and what `--force` overrode."""

    allowed: bool
    blockers: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    forced: bool = False

    def message(self) -> str:
        """The blockers, or when nothing blocks the notes, joined by `; `."""
        return "; ".join(self.blockers) if self.blockers else "; ".join(self.notes)

    def override(self, *, step: str, at: str, **context: Any) -> dict[str, Any] | None:
        """What a forced step overrode, for the record (None when nothing was forced past)."""
        if not (self.forced and self.blockers):
            return None
        return {"step": step, "at": at, "overrode": list(self.blockers), **context}


def quality_blockers(verdict: Verdict, margin: float) -> tuple[list[str], list[str]]:
    """Blockers for every compared change (fused default, each space alone) worse than `margin`;
    notes for the rest. Empty without judgments."""
    blockers: list[str] = []
    notes: list[str] = []
    if verdict.judged:
        delta = verdict.delta or 0.0
        line = (f"candidate {verdict.metric} {verdict.candidate:.4f} is worse than live {verdict.baseline:.4f} "
                f"by {-delta:.4f}, more than the margin of {margin:.4f}")
        if delta < -margin:
            blockers.append(f"validation: {line}")
        else:
            notes.append(f"validation: {verdict.metric} {verdict.baseline:.4f} -> {verdict.candidate:.4f} "
                         f"({delta:+.4f}, margin {margin:.4f})")
    for name, d in sorted(verdict.others.items()):
        if d < -margin:
            blockers.append(f"validation: {name} changes by {d:+.4f}, worse than the margin of {margin:.4f} "
                            "(the migrated space alone; the fused default may not weigh it)")
        else:
            notes.append(f"validation: {name} {d:+.4f}")
    return blockers, notes


def promote_gate(*, coverage: Coverage, verdict: Verdict | None, margin: float, force: bool) -> Gate:
    """Promote only a complete version that validation did not find worse than live by more than `margin`,
    neither in the fused default search nor in the migrated space alone.

    Args:
        coverage: points that carry the candidate vector.
        verdict: the latest validation of this candidate, if any.
        margin: how much lower (absolute, on the gate metric) the candidate may score, in each mode.
        force: promote anyway; the blockers are still reported, and the caller records the override.

    Returns:
        The decision, with every blocker named.
    """
    blockers: list[str] = []
    notes: list[str] = []
    if not coverage.complete:
        blockers.append(f"coverage is {coverage}, not 100 %: run backfill first")
    if verdict is None:
        blockers.append("no validation report for this version: run validate first")
    elif verdict.judged:
        quality, notes = quality_blockers(verdict, margin)
        blockers += quality
    else:
        overlap = f"{verdict.overlap:.3f}" if verdict.overlap is not None else "n/a"
        notes.append(f"validation had no judgments: quality not compared (overlap@k {overlap})")
    if blockers and force:
        return Gate(allowed=True, blockers=tuple(blockers), notes=tuple(notes), forced=True)
    return Gate(allowed=not blockers, blockers=tuple(blockers), notes=tuple(notes))


def retire_gate(*, age_s: float, grace_s: float, is_live: bool, force: bool) -> Gate:
    """Retire (delete vectors) only what is not live, and only after the grace period since it last changed."""
    if is_live:
        return Gate(allowed=False, blockers=("it is live: promote another version or roll back first",))
    if age_s < grace_s:
        # "last changed": a version that was live stopped serving then; one never promoted was written then
        blocker = (f"grace period not over: it last changed {format_duration(age_s)} ago, grace is "
                   f"{format_duration(grace_s)} (--force retires it now)")
        return Gate(allowed=force, blockers=(blocker,), forced=force)
    return Gate(allowed=True)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `24h`, `7d` -> seconds."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 24h, 7d)")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def format_duration(seconds: float) -> str:
    """`5400` -> `1.5h`: the largest unit of d, h, m that fits, else whole seconds."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
