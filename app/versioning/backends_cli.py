"""Where `scripts/migrate` runs a step: `Local`, in this process on a store opened from Settings() (the service
stopped), or `Remote`, by the service through its admin API."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.errors import Conflict, StoreLocked
from app.store.folder import through_service
from app.versioning.dispatch import run_step
from app.versioning.steps import DEFAULT_BATCH
from app.versioning.tagging import stopped_note

if TYPE_CHECKING:
    from app.container import Services
    from app.settings import Settings


class Local:
    """Steps run in this process on a store opened from Settings() (the service must be stopped)."""

    def __init__(self, argv: list[str], settings: Settings | None = None) -> None:
        from app.container import build_services
        from app.repos.registry import RegistryRepo
        from app.repos.restore_journal import RestoreJournal
        from app.settings import Settings
        from app.store.factory import open_store
        from app.store.journal_places import place_for

        settings = settings or Settings()
        try:
            store = open_store(settings.store, settings.collection)
        except StoreLocked as e:
            command = through_service(e, settings.service_url, "scripts/migrate --url {url} " + " ".join(argv))
            raise SystemExit(f"{e.message}\n\nThe service holds the data folder: run the same command through it,\n"
                             f"  {command}\n(or set MULTIVEC_SERVICE_URL to the service's URL)") from None
        journal = RestoreJournal(place_for(store))  # a restore left half done is refused before any step
        if RegistryRepo(store=store, alias=settings.store.collection, journal=journal).load() is None:
            store.close()
            raise SystemExit(f"collection {settings.store.collection!r} is not initialised in "
                             f"{settings.store.url or settings.store.path}: start the service or load documents first")
        self.services: Services = build_services(settings, store=store, init=False)

    def close(self) -> None:
        """Close the store (the data folder is free again)."""
        self.services.close()

    def status(self) -> dict[str, Any]:
        """What `GET /admin/migrations` answers in `status`."""
        return self.services.migrator.status()

    def step(self, step: str, **params: Any) -> dict[str, Any]:
        """Run one step with the admin API's parameters (`app.versioning.dispatch.STEPS`), plus `progress`.

        Raises:
            InvalidInput: an unknown step or a malformed parameter.
            Conflict: the step's preconditions do not hold.
        """
        progress = params.pop("progress", None)
        return run_step(self.services.migrator, step, params, progress=progress)


class Remote:
    """Steps run by the service, through its admin API."""

    def __init__(self, url: str, token: str | None, client: Any = None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # `client`: any httpx.Client, such as Litestar's TestClient in tests
        self.owned = client is None
        self.client = client or httpx.Client(base_url=url.rstrip("/"), timeout=3600, headers=headers)
        self.url = url

    def close(self) -> None:
        """Close the HTTP client, unless it was handed in."""
        if self.owned:
            self.client.close()

    def _answer(self, r: Any) -> dict[str, Any]:
        if r.status_code == 200:
            return r.json()  # type: ignore[no-any-return]
        try:
            body = r.json()
            message = body.get("message", r.text)
        except ValueError:
            body, message = {}, r.text
        if r.status_code == 409:
            raise Conflict(message, body.get("detail"))
        raise SystemExit(f"{self.url} answered {r.status_code}: {message}")

    def _call(self, fn: Callable[[], Any]) -> dict[str, Any]:
        import httpx

        try:
            return self._answer(fn())
        except httpx.TransportError as e:
            raise SystemExit(f"cannot reach the service at {self.url}: {e}") from None

    def status(self) -> dict[str, Any]:
        """`GET /admin/migrations`'s `status`."""
        return self._call(lambda: self.client.get("/admin/migrations"))["status"]  # type: ignore[no-any-return]

    def step(self, step: str, **params: Any) -> dict[str, Any]:
        """`POST /admin/migrations/<step>` with `params` (a backfill in slices, moving `progress`).

        Raises:
            Conflict: the service answered 409 (the reason is the message).
            SystemExit: the service cannot be reached, or answered another error.
        """
        progress = params.pop("progress", None)
        if step == "backfill" and not params.get("dry_run"):
            return self._backfill(progress, **params)
        return self._call(lambda: self.client.post(f"/admin/migrations/{step}", json=params))

    def _backfill(self, progress: Callable[[int, int], None] | None, **params: Any) -> dict[str, Any]:
        """In slices, so no request runs long and the bar moves; each slice resumes where the last stopped.
        `max_points` bounds the whole run, not a slice: it stops there as the direct path does."""
        limit, size = params.get("max_points"), params.get("batch", DEFAULT_BATCH) * 8
        done, todo, actions = 0, None, []
        while True:
            params["max_points"] = min(size, limit - done) if limit is not None else size
            out = self._call(lambda: self.client.post("/admin/migrations/backfill", json=params))
            data = out.get("data", {})
            if todo is None:
                todo = data.get("missing", data.get("total", 0))
                todo = min(todo, limit) if limit is not None else todo
            done += int(data.get("done", 0))
            if progress and todo:
                progress(min(done, todo), todo)
            actions += [a for a in out.get("actions", []) if not a.startswith(("encoded and tagged", "copied"))]
            params["start"] = data.get("cursor")  # the next slice continues where this one stopped
            if data.get("complete") or not data.get("done") or (limit and done >= limit):
                break
        out["actions"] = actions + ([f"backfilled {done} points through {self.url}"] if done else [])
        if not data.get("complete") and data.get("remaining"):  # the last slice's note counts its own points
            out["notes"] = [stopped_note(done=done, remaining=data["remaining"], total=data.get("total", 0),
                                         what=out.get("target", ""), revision=data.get("revision", ""))]
        out["data"] = {**data, "done": done}
        return out
