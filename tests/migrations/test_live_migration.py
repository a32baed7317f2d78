"""A model migration on a live service: searches keep answering, each from exactly one version."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services
from app.versioning.cli import Remote, main
from app.versioning.declare import Migration
from tests.migrations.conftest import NEW, OLD, QUERIES, WIDE

ADMIN_TOKEN = "operator-secret"
QUERY_TEXTS = ["sourdough bread", "gene editing", "dark matter", "distributed consensus"]


@dataclass(frozen=True)
class Seen:
    start: int
    end: int
    status: int
    title_vectors: tuple[str, ...]
    spaces_once: bool


class SearchLoop:
    """A client thread searching in a loop, stamping each request with a shared sequence number."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.seq = itertools.count()
        self.lock = threading.Lock()
        self.more = threading.Condition(self.lock)
        self.seen: list[Seen] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def tick(self) -> int:
        with self.lock:
            return next(self.seq)

    def _run(self) -> None:
        for text in itertools.cycle(QUERY_TEXTS):
            if self.stop.is_set():
                return
            start = self.tick()
            try:
                # fuse `title` explicitly: the evaluated default weights it out of the fusion
                r = self.client.post("/search", json={"query": text, "explain": True, "limit": 5,
                                                      "fields": ["title", "body", "keywords"]})
                body: dict[str, Any] = r.json()
            except Exception as e:  # a failed search is what this test is about: record, do not die
                self.errors.append(repr(e))
                continue
            spaces = [s["space"] for s in (body.get("plan") or {}).get("spaces", [])]
            titles = tuple(s["vector"] for s in (body.get("plan") or {}).get("spaces", []) if s["space"] == "title")
            with self.more:
                self.seen.append(Seen(start, next(self.seq), r.status_code, titles, len(spaces) == len(set(spaces))))
                self.more.notify_all()

    def wait_for(self, n: int, after: int) -> None:
        """Block until `n` searches that started after sequence number `after` have answered."""
        with self.more:
            ok = self.more.wait_for(lambda: sum(1 for s in self.seen if s.start > after) >= n or
                                    not self.thread.is_alive(), timeout=120)
        assert ok and self.thread.is_alive(), "the search loop stopped answering"


def test_model_migration_on_a_live_service_never_fails_or_mixes_versions(loaded: Services,
                                                                          migration: Migration) -> None:
    # Two apps over one store: a replica serving searches, and the one the operator talks to (with its token).
    settings = loaded.settings.model_copy(update={"admin_token": ADMIN_TOKEN})
    with TestClient(create_app(settings, services=loaded)) as search_client, \
            TestClient(create_app(settings, services=loaded)) as admin_client:
        admin_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        loop = SearchLoop(search_client)
        loop.thread.start()
        events: dict[str, tuple[int, int]] = {}

        def step(name: str, fn: Callable[[], Any]) -> Any:
            start = loop.tick()
            out = fn()
            events[name] = (start, loop.tick())
            loop.wait_for(3, after=events[name][1])
            return out

        def admin(step_name: str, **body: Any) -> dict[str, Any]:
            r = admin_client.post(f"/admin/migrations/{step_name}", json=body)
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]

        try:
            loop.wait_for(3, after=-1)
            step("apply", lambda: admin("apply", migration=migration.to_dict()))
            # a document written during the migration gets both versions (shadow write)
            r = admin_client.post("/documents", json={"documents": [
                {"id": "during", "title": "Tidal heating of icy moons", "body": "Jupiter's moon Io."}]})
            assert r.status_code == 200 and NEW in r.json()["vector_versions"]
            # backfill in slices, as `scripts/migrate --url` does
            step("backfill", lambda: main(["--url", "http://testserver", "backfill", "--batch", "4",
                                           "--progress", "none"], backend=Remote("http://testserver", None,
                                                                                 client=admin_client)))
            status = admin_client.get("/admin/migrations").json()["status"]
            [new] = [v for v in status["versions"] if v["version"] == NEW]
            assert new["covered"] == new["total"] == 12 and new["status"] == "ready"
            report = admin("validate", query_set=QUERIES.to_dict())["data"]["report"]
            assert report["judged"] == 4
            step("promote", lambda: admin("promote", margin=WIDE))
            step("rollback", lambda: admin("rollback"))
            step("promote again", lambda: admin("promote", margin=WIDE))
        finally:
            loop.stop.set()
            loop.thread.join(timeout=60)

    assert not loop.errors, loop.errors[:3]
    assert all(s.status == 200 for s in loop.seen), [s.status for s in loop.seen if s.status != 200][:5]
    assert all(s.spaces_once and len(s.title_vectors) == 1 for s in loop.seen)

    # Old before promote, new after; a search that overlapped a swap may see either, never a mix.
    phases = [(events["promote"], NEW), (events["rollback"], OLD), (events["promote again"], NEW)]
    for s in loop.seen:
        expected = OLD
        for (start, end), version in phases:
            if s.start > end:
                expected = version
            elif s.end > start:  # overlapped this swap
                expected = ""
        if expected:
            assert s.title_vectors == (expected,), (s, events)
    per_phase = [sum(1 for s in loop.seen if s.start > end) for (_, end), _ in phases]
    assert all(n >= 3 for n in per_phase)
