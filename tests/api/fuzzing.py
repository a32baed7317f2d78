"""What the schemathesis suites share: the fuzzed app, the run record, and one operation's fuzzing.

The OpenAPI document is the contract: schemathesis fuzzes every operation of the real app (embedded store,
real models) with valid and invalid data, and no answer may be a server error or disagree with the schema.
Bounded and reproducible: `MAX_EXAMPLES` cases per operation and generation mode, derandomized (a fixed
seed), no shrinking, no example database. Every failure is collected, not just the first, and reported with
the request that caused it (as curl). The operations are split between two test files
(tests/api/test_schemathesis.py: documents, search, health and the admin routes; test_schemathesis_migrations.py:
the migration steps), so that parallel workers (a whole file each) share the ~3,600 cases; each file fuzzes
over its own module's store.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.asgi import create_app
from app.container import Services
from app.services.backup import BackupService
from tests.conftest import to_documents
from tests.fixtures import DOCS

MAX_EXAMPLES = 100
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
API_KEY, ADMIN_TOKEN = "fuzz-rw-key", "fuzz-admin-token"
# The read-write key (api-key, as Qdrant takes it) for data routes; the admin token (bearer) for /admin.
HEADERS = {"api-key": API_KEY, "Authorization": f"Bearer {ADMIN_TOKEN}"}
EVERY_OPERATION = {
    "POST /documents", "GET /documents/{doc_id}", "DELETE /documents/{doc_id}", "POST /search", "GET /health",
    "GET /ready", "POST /admin/optimize", "POST /admin/backup", "POST /admin/restore",
    "GET /admin/migrations", "POST /admin/migrations/{step}",
    *(f"POST /admin/migrations/{step}" for step in ("plan", "apply", "backfill", "validate", "promote", "rollback",
                                                    "retire")),
}
# Each test file fuzzes one part, about half the cases each: the migration routes, and all the others.
MIGRATION_OPERATIONS = sorted(op for op in EVERY_OPERATION if " /admin/migrations" in op)
OTHER_OPERATIONS = sorted(EVERY_OPERATION - set(MIGRATION_OPERATIONS))


@dataclass
class Run:
    """What the fuzzing did: cases sent per operation, and each distinct failure with one request that shows it."""

    cases: dict[str, Counter[int]] = field(default_factory=dict)  # label -> status -> cases
    seconds: dict[str, float] = field(default_factory=dict)  # label -> time spent generating and sending
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def record(self, case: schemathesis.Case, error: Failure | FailureGroup) -> None:
        for failure in error.exceptions if isinstance(error, FailureGroup) else [error]:
            key = (case.operation.label, failure.title, failure.message.splitlines()[0] if failure.message else "")
            self.failures.setdefault(key, f"{case.as_curl_command(headers=HEADERS)}\n    -> {failure.message[:300]}")

    def report(self) -> str:
        total = sum(sum(c.values()) for c in self.cases.values())
        lines = [f"{total} cases, {len(self.failures)} distinct failures"]
        lines += [f"  {op}: {sum(c.values())} ({dict(sorted(c.items()))}) {self.seconds.get(op, 0):.1f} s"
                  for op, c in self.cases.items()]
        lines += [f"FAIL {op} [{title}] {first}\n  {example}" for (op, title, first), example in self.failures.items()]
        return "\n".join(lines)


@dataclass
class Fuzzed:
    """The app under fuzzing: every operation of its own OpenAPI document by label (`POST /search`), and
    one in-process ASGI client (a `requests.Session`) that sends every case, rather than a new one per case."""

    operations: dict[str, Any]
    client: asgi.ASGIClient


class SameThreadPortal:
    """Where schemathesis' ASGI client runs the app: an event loop in the calling (test) thread, driven
    for each call, in place of the loop in a thread of its own that schemathesis starts (anyio's blocking
    portal). The app and every request are the same; what goes is two hand-offs between threads per
    request (measured here: 0.3-0.4 ms of the ~1.1 ms a refused request took, over ~3,600 cases). The
    two methods are the part of anyio's `BlockingPortal` that `schemathesis.python.asgi` uses."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.tasks: list[asyncio.Task[Any]] = []

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` inside the loop (awaited when it is a coroutine function); its result."""
        async def run() -> Any:
            out = fn(*args)
            return await out if inspect.isawaitable(out) else out

        return self.loop.run_until_complete(run())

    def start_task_soon(self, fn: Callable[..., Any], *args: Any) -> asyncio.Task[Any]:
        """`fn(*args)` as a task of the loop (the app's lifespan): it runs whenever the loop is driven."""
        task = self.loop.create_task(fn(*args))
        self.tasks.append(task)
        return task


@contextmanager
def same_thread_asgi() -> Iterator[SameThreadPortal]:
    """schemathesis' ASGI client runs apps on a `SameThreadPortal` inside the block; at its end the
    lifespans started in it are shut down and schemathesis' own portal is back."""
    portal, before = SameThreadPortal(), asgi._PORTAL
    asgi._PORTAL = portal  # type: ignore[assignment]  # what schemathesis' _get_portal() hands out
    try:
        yield portal
    finally:
        try:
            asgi.shutdown_lifespans()
        finally:
            asgi._PORTAL = before
            portal.loop.close()


@contextmanager
def fuzzed_app(services: Services, backups: Path) -> Iterator[Fuzzed]:
    """The real app with API keys and an admin token set, over `services`' store seeded with the fixtures;
    backups go to `backups`. The app runs on an event loop in the test's thread (`same_thread_asgi`), and
    the client reads no proxy settings (requests reads the whole environment for them on every request)."""
    keyed = services.settings.model_copy(update={"api_key": API_KEY, "admin_token": ADMIN_TOKEN})
    services.backup = BackupService(store=services.store, root=backups, journal=services.registry.journal)
    services.ingest.upsert(to_documents(DOCS))
    app = create_app(keyed, services=services)
    with same_thread_asgi() as portal:
        schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
        operations = {op.label: op for op in (result.ok() for result in schema.get_all_operations())}
        with asgi.get_client(app) as client:  # type: ignore[arg-type]  # Litestar is an ASGI app
            # the app's lifespan started on this thread's loop: were schemathesis to stop asking for the
            # portal this way, this says so rather than fuzzing slower unnoticed
            assert portal.tasks, "schemathesis did not start the app on the same-thread portal"
            client.trust_env = False
            yield Fuzzed(operations, client)


def checks_for(response: Any) -> list[Any]:
    """Every check, for every answer; except that a fan-out search in which no space answered within the
    budget the request set (`"budget_ms": 1` does that) is a declared 503 `search_deadline` by design,
    not a server error: its status, shape and content type are still checked."""
    if response.status_code == 503 and '"code":"search_deadline"' in response.text.replace(" ", ""):
        return [c for c in CHECKS if c is not not_a_server_error]
    return CHECKS


def fuzz(operation: Any, mode: GenerationMode, run: Run, client: asgi.ASGIClient) -> None:
    """Send `MAX_EXAMPLES` generated cases of one operation in one mode through `client`, recording every
    failure."""
    label = f"{operation.label} ({mode.value})"
    statuses = run.cases.setdefault(label, Counter())

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: schemathesis.Case) -> None:
        response = case.call(session=client, headers=HEADERS)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks_for(response), headers=HEADERS)
        except (Failure, FailureGroup) as e:
            run.record(case, e)

    t0 = time.perf_counter()
    try:
        send()
        run.seconds[label] = time.perf_counter() - t0
    except Unsatisfiable:  # nothing to make invalid: an operation with no parameters and no body
        assert mode is GenerationMode.NEGATIVE and not statuses, label
        run.cases.pop(label)


def fuzz_operation(fuzzed: Fuzzed, label: str) -> Run:
    """Fuzz one operation in both generation modes (positive and negative); prints what was sent."""
    run, t0 = Run(), time.perf_counter()
    for mode in GenerationMode:
        fuzz(fuzzed.operations[label], mode, run, fuzzed.client)
    print(f"\nschemathesis: {run.report()}\nin {time.perf_counter() - t0:.1f} s")
    return run


def body_mismatch(fuzzed: Fuzzed, label: str) -> str | None:
    """Whether the operation does with no body what its `requestBody.required` says (None: it does, or it has
    no body), else what differs. A required body sent empty or as JSON `null` is refused with a 400
    `malformed_request` (`null`: or a 422
    `invalid_input` naming the body); an optional one is answered as its defaults, `{}`, are (the same status and code).
    A body of only whitespace (`echo | curl --data-binary @-`) is answered as an empty one, either way.
    schemathesis' checks do not see this: both answers are declared statuses."""
    op = fuzzed.operations[label]
    declared = op.definition.raw.get("requestBody")
    if declared is None:
        return None
    url = fuzzed.client.base_url + op.path.replace("{step}", "no-such-step")

    said: dict[bytes | None, str] = {}

    def send(content: bytes | None) -> tuple[int, str | None]:
        headers = {**HEADERS, **({"content-type": "application/json"} if content is not None else {})}
        r = fuzzed.client.request(op.method.upper(), url, data=content, headers=headers)
        answer = r.json() if r.content.startswith(b"{") else {}
        said[content] = str(answer.get("message"))
        return r.status_code, answer.get("code")

    empty, null, blank = send(None), send(b"null"), send(b" \n\t\r\n")
    if declared.get("required"):
        refused = (empty == blank == (400, "malformed_request")
                   and (null == (400, "malformed_request") or (null == (422, "invalid_input")
                        and said[b"null"].startswith("body: "))))
        return None if refused else (f"required body, yet no body: {empty}, whitespace: {blank}, null: {null} "
                                     f"({said[b'null']})")
    defaults = send(b"{}")
    return None if empty == null == blank == defaults else (f"optional body: no body {empty}, null {null}, "
                                                            f"whitespace {blank}, {{}} {defaults}")
