"""Which version a search uses during a gradual rollout, and which searches are shadowed: pure, stable hashes.

A query's bucket (0-99) is the SHA-256 of its normalised text (Unicode NFKC, case-folded, runs of
white space as one space), salted with the rolled-out version's name, modulo 100. A search goes to
the rolled-out version when its bucket is below the rollout's percent, so the same query always
gets the same answer on every replica, and raising the percent only adds queries (10 % is a subset
of 25 %). The salt makes each rollout pick its own queries rather than the same unlucky ones every
time. Shadow sampling uses a second, independent hash (salt `shadow:<version>`), so shadowed searches
are spread over both sides of the split.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from app.domain.versions import Registry

BUCKETS = 100


def normalise(query: str) -> str:
    """The text the hash reads: NFKC, case-folded, white space collapsed, stripped."""
    return " ".join(unicodedata.normalize("NFKC", query).casefold().split())


def bucket(query: str, salt: str) -> int:
    """The query's bucket, 0 to 99: stable across processes, replicas and restarts (no `hash()` seed)."""
    digest = hashlib.sha256(f"{salt}\x00{normalise(query)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def shadow_sampled(query: str, version: str, percent: int) -> bool:
    """True for about `percent` % of queries: those whose shadow bucket is below it."""
    return percent > 0 and bucket(query, f"shadow:{version}") < percent


@dataclass(frozen=True)
class Decision:
    """One space's rollout decision for one query: which of the two versions it is served by."""

    space: str
    live: str
    candidate: str  # the rolled-out version
    percent: int
    bucket: int
    started: str = ""

    @property
    def routed(self) -> bool:
        """True when the search goes to the rolled-out version."""
        return self.bucket < self.percent

    @property
    def served(self) -> str:
        """The version this search uses for the space."""
        return self.candidate if self.routed else self.live

    @property
    def other(self) -> str:
        """The version a shadow read runs instead."""
        return self.live if self.routed else self.candidate

    def describe(self) -> dict[str, object]:
        """What `explain`'s plan shows: the version used, and that the rollout decided it."""
        return {"space": self.space, "version": self.served, "decided_by": "rollout", "live": self.live,
                "candidate": self.candidate, "percent": self.percent, "bucket": self.bucket,
                "routed": self.routed}


@dataclass(frozen=True)
class Routing:
    """Every rollout decision of one search (empty when no space is being rolled out)."""

    decisions: tuple[Decision, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.decisions)

    @property
    def pins(self) -> dict[str, str]:
        """space -> the version this search uses (for `build_plan(versions=...)`)."""
        return {d.space: d.served for d in self.decisions}

    @property
    def shadow_pins(self) -> dict[str, str]:
        """space -> the other version: what a shadow read of this search runs."""
        return {d.space: d.other for d in self.decisions}

    def only(self, spaces: Collection[str]) -> Routing:
        """The decisions about `spaces` (the ones a plan fuses)."""
        return Routing(tuple(d for d in self.decisions if d.space in spaces))


def route(registry: Registry, query: str, *, pinned: Mapping[str, str] | None = None) -> Routing:
    """The rollout decisions for `query`: one per space with a rollout, except spaces the request pins
    itself (validation and A/B requests choose their versions).

    Args:
        registry: the registry the search is planned from (one read: a search never mixes versions).
        query: the query text.
        pinned: space -> version the request asked for; those spaces are not routed.
    """
    decisions = []
    for name, space in registry.spaces.items():
        r = space.rollout
        if r is None or space.live is None or name in (pinned or {}):
            continue
        decisions.append(Decision(space=name, live=space.live, candidate=r.version, percent=r.percent,
                                  bucket=bucket(query, r.version), started=r.started))
    return Routing(tuple(decisions))
