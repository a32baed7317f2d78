"""Compare-and-set meta writes (the version registry's revisions), shared by both adapters."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from app.errors import Conflict

META_COLLECTION = "_multivec_meta"
META_REVISION = "value.revision"  # the payload path compare-and-set conditions on
WRITERS = "writers"  # payload: tokens of the latest conditional writes, newest last
KEEP_WRITERS = 32
_PROCESS = uuid.uuid4().hex  # tells this process's writes from another's


@dataclass(frozen=True)
class MetaWrite:
    """One conditional meta write, as both adapters send it: the payload and who wrote it."""

    key: str
    expect: int
    payload: dict[str, Any]
    token: str
    done: bool = False  # already stored: nothing to send


def revision_of(payload: dict[str, Any] | None) -> int:
    """The revision of a stored meta payload (0 when there is none)."""
    value = (payload or {}).get("value") or {}
    revision = value.get("revision", 0)
    return revision if isinstance(revision, int) else 0


def lost_race(key: str, expect: int, found: int) -> Conflict:
    """The Conflict of a compare-and-set that found `found` where it expected `expect`."""
    return Conflict(f"another step changed {key} meanwhile (revision expected {expect}, found {found}): "
                    "nothing was changed; look at the state again and re-run the step if it still applies",
                    {"key": key, "expected_revision": expect, "found_revision": found})


def write_token(key: str, value: dict[str, Any], expect: int) -> str:
    """Who writes: this process and thread, and what it writes. A retry of the same call (after a
    timeout whose write went through) finds its own token stored, and does not report a conflict."""
    body = json.dumps([_PROCESS, threading.get_ident(), key, expect, value], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def prepare_meta_write(key: str, value: dict[str, Any], expect: int, current: dict[str, Any] | None) -> MetaWrite:
    """The payload of a compare-and-set write, checked first against the payload read just before.

    The token, appended to the writers the stored payload lists, tells afterwards whether this write
    is the one that went through (a conditional upsert does not say whether it matched).

    Returns:
        The write; `done` when `current` already holds it (a retried call whose write went through).

    Raises:
        Conflict: `current` is already past `expect`.
    """
    token = write_token(key, value, expect)
    writers = list((current or {}).get(WRITERS) or [])
    found = revision_of(current) if current is not None else 0
    if found == expect + 1 and writers and writers[-1] == token:
        return MetaWrite(key=key, expect=expect, payload=current or {}, token=token, done=True)
    if found != expect or (current is None) != (expect == 0):
        raise lost_race(key, expect, found)
    payload = {"key": key, "value": {**value, "revision": expect + 1}, WRITERS: [*writers[-(KEEP_WRITERS - 1):], token]}
    return MetaWrite(key=key, expect=expect, payload=payload, token=token)


def confirm_meta_write(write: MetaWrite, stored: dict[str, Any] | None) -> int:
    """After the conditional upsert: the new revision if this write went through.

    Raises:
        Conflict: another write won the race (its revision is reported); ours changed nothing.
    """
    if stored is None or write.token not in (stored.get(WRITERS) or []):
        raise lost_race(write.key, write.expect, revision_of(stored))
    return write.expect + 1


