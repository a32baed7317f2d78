"""Where the loader writes: the errors a load can end with, and the two writers (the service's HTTP
API, or the store directly with the service stopped), each turning every answer into one of them.

Library code: raises `LoadError`s; only `app.cli` prints and exits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from app.domain.bounds import MAX_BATCH_CHARS_KEY, written_path
from app.settings import MAX_BODY_BYTES

if TYPE_CHECKING:
    import httpx

    from app.container import Services


# --- errors -------------------------------------------------------------------------------------------------------


class LoadError(Exception):
    """Base of every error the loader reports."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Invalid:
    """One document the service refused, by its position in the batch sent."""

    index: int
    id: str | None
    message: str


class DocumentsRefused(LoadError):
    """A batch refused for its documents' content (a 422): nothing of it was written.

    `invalid` lists the refused documents when the answer names them, else it is None.
    """

    def __init__(self, message: str, invalid: list[Invalid] | None = None) -> None:
        super().__init__(message)
        self.invalid = invalid


class RequestFailed(LoadError):
    """Any other failure to write: no connection, refused credentials, a server or store error, a locked store."""


class OptimizeFailed(LoadError):
    """The documents are written but the index was not optimised."""




@dataclass(frozen=True)
class BatchLimits:
    """What one request may hold: documents (`max_batch`) and characters of text in all (`max_batch_chars`:
    titles, bodies, summaries and entities summed), as the service checks them, and bytes of JSON (the service
    reads a body of at most `MAX_BODY_BYTES`: 20 documents of a million emoji each fit the characters and made an
    80 MB request, a 413, a break test). Bytes are counted with non-ASCII escaped (`\\ud83d`), an upper bound
    of what any JSON encoder sends, less 1 MiB for the envelope."""

    documents: int
    chars: int
    bytes: int = MAX_BODY_BYTES - (1 << 20)

    @classmethod
    def of(cls, limits: Any) -> BatchLimits:
        """From a `LimitSettings` (the service's own, or the environment's when the service does not say)."""
        return cls(documents=limits.max_batch, chars=limits.max_batch_chars)


# --- writing ------------------------------------------------------------------------------------------------------


class Writer(Protocol):
    """Where documents go: the running service (HTTP) or the store itself (direct)."""

    def write(self, docs: list[dict[str, Any]]) -> None:
        """Write one batch, all or nothing.

        Raises:
            DocumentsRefused: refused for its content; nothing written.
            RequestFailed: any other failure.
        """

    def limits(self, default: BatchLimits) -> BatchLimits:
        """What one request may hold; `default` for what the writer cannot learn."""

    def optimize(self) -> None:
        """Build the indexes after the load.

        Raises:
            OptimizeFailed: refused or failed.
        """


def _error_parts(response: httpx.Response) -> tuple[str, str, Any]:
    """(code, message, detail) of an error answer, tolerant of bodies that are not our JSON shape."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        return str(body.get("code") or ""), str(body["message"]), body.get("detail")
    return "", (response.text or response.reason_phrase).strip()[:300], None


_DOCUMENT_KEY = re.compile(r"documents(?:\[(\d+)\]|\.(\d+))(?:\.(.+))?")


def parse_invalid(detail: Any) -> list[Invalid] | None:
    """The refused documents a 422's `detail` names, if it names them.

    Either our `{"invalid": [{index, id, message}]}`, or the schema's list of `{key: "documents[3].title",
    message}` (or `documents.3.title`, as older services wrote it); anything else (or a problem with the
    batch as a whole) gives None.
    """
    if isinstance(detail, list):
        return _schema_invalid(detail)
    items = detail.get("invalid") if isinstance(detail, dict) else None
    if not isinstance(items, list) or not items:
        return None
    out: list[Invalid] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("index"), int) or isinstance(item["index"], bool):
            return None
        doc_id = item.get("id")
        out.append(Invalid(item["index"], None if doc_id is None else str(doc_id), str(item.get("message") or "")))
    return out


def _schema_invalid(problems: list[Any]) -> list[Invalid] | None:
    """Schema errors keyed `documents[<index>].<field>` as refused documents; None unless every one names one."""
    out: list[Invalid] = []
    for p in problems:
        found = _DOCUMENT_KEY.fullmatch(str(p.get("key") or "")) if isinstance(p, dict) else None
        if found is None:
            return None
        index, field_name = found.group(1) or found.group(2), found.group(3) or "document"
        out.append(Invalid(int(index), None, f"{field_name}: {p.get('message')}"))
    return out or None


class HttpWriter:
    """Writes through the running service; every answer is checked.

    Args:
        client: an httpx client whose base URL is the service (tests pass one bound to the app).
        api_key: the service's read-write key, sent as `api-key` (MULTIVEC_API_KEY).
        admin_token: the admin token, sent as `Authorization: Bearer` to `/admin/optimize` (MULTIVEC_ADMIN_TOKEN).
    """

    def __init__(self, client: httpx.Client, *, api_key: str | None = None, admin_token: str | None = None) -> None:
        self.client = client
        self.headers = {"api-key": api_key} if api_key else {}
        self.admin_headers = {**self.headers, **({"Authorization": f"Bearer {admin_token}"} if admin_token else {})}

    def _post(self, path: str, *, headers: dict[str, str], json_body: Any, error: type[LoadError]) -> httpx.Response:
        import httpx

        try:
            return self.client.post(path, json=json_body, headers=headers)
        except httpx.HTTPError as e:
            raise error(f"cannot reach the service at {self.client.base_url}: {type(e).__name__}: {e}") from e

    def write(self, docs: list[dict[str, Any]]) -> None:
        """`POST /documents` with the batch, all or nothing.

        Raises:
            DocumentsRefused: a 422, with the refused documents when its `detail` names them.
            RequestFailed: no connection, or any other non-2xx answer (401/403 with a hint to set the key).
        """
        r = self._post("/documents", headers=self.headers, json_body={"documents": docs}, error=RequestFailed)
        if r.is_success:
            return
        code, message, detail = _error_parts(r)
        if r.status_code == 422:
            raise DocumentsRefused(message, parse_invalid(detail))
        hint = " (set MULTIVEC_API_KEY to the service's read-write key)" if r.status_code in (401, 403) else ""
        raise RequestFailed(f"POST /documents answered {r.status_code} {code or r.reason_phrase}: {message}{hint}")

    def limits(self, default: BatchLimits) -> BatchLimits:
        """The service's batch limits, read from its OpenAPI document (`maxItems` and `x-max-batch-chars` of
        `DocumentsIn.documents`); `default` for what it does not say (an older service, or none reachable: the
        first write then says why)."""
        try:
            r = self.client.get("/schema/openapi.json", headers=self.headers)
            documents = r.json()["components"]["schemas"]["DocumentsIn"]["properties"]["documents"]
        except Exception:  # any answer that is not our schema (or none): the defaults
            return default
        count, chars = documents.get("maxItems"), documents.get(MAX_BATCH_CHARS_KEY)
        return BatchLimits(documents=count if _whole(count) else default.documents,
                           chars=chars if _whole(chars) else default.chars)

    def optimize(self) -> None:
        """`POST /admin/optimize` with the admin token.

        Raises:
            OptimizeFailed: no connection, or a non-2xx answer (its status, code and message).
        """
        r = self._post("/admin/optimize", headers=self.admin_headers, json_body=None, error=OptimizeFailed)
        if not r.is_success:
            code, message, _ = _error_parts(r)
            raise OptimizeFailed(f"POST /admin/optimize answered {r.status_code} {code or r.reason_phrase}: {message}")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _pydantic_refusal(error: Any) -> DocumentsRefused:
    """A schema error over `{"documents": [...]}`, named per document as the API's 422 names them."""
    problems = [{"key": written_path(e.get("loc", ())), "message": e.get("msg")} for e in error.errors()]
    message = "; ".join(f"{p['key']}: {p['message']}" for p in problems)
    return DocumentsRefused(message, _schema_invalid(problems))


class DirectWriter:
    """Writes straight to the store (the service stopped), with the same checks the API makes."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def write(self, docs: list[dict[str, Any]]) -> None:
        """Check the batch with the API's schema, then upsert it through the ingest service, all or nothing.

        Raises:
            DocumentsRefused: a schema error, or `InvalidInput`/`UnknownSpace` from ingest (nothing written).
            RequestFailed: any other `AppError` (a locked or unavailable store, ...).
        """
        from pydantic import ValidationError

        from app.api.schemas import DocumentsIn
        from app.domain.documents import Document
        from app.errors import AppError, InvalidInput, UnknownSpace

        try:
            data = DocumentsIn.model_validate({"documents": docs})
        except ValidationError as e:
            raise _pydantic_refusal(e) from e
        try:  # upsert validates every bound first (IngestService.validate), as the API does
            self.services.ingest.upsert([Document.from_dict(d.model_dump()) for d in data.documents])
        except (InvalidInput, UnknownSpace) as e:
            raise DocumentsRefused(e.message, parse_invalid(e.detail)) from e
        except AppError as e:
            raise RequestFailed(f"{e.code}: {e.message}") from e

    def limits(self, default: BatchLimits) -> BatchLimits:
        """The store's own settings' batch limits (the ones the API would check); `default` is not needed."""
        return BatchLimits.of(self.services.settings.limits)

    def optimize(self) -> None:
        """Optimise the collection the alias points at.

        Raises:
            OptimizeFailed: the store raised an `AppError`.
        """
        from app.errors import AppError

        try:
            self.services.store.optimize(self.services.registry.physical())
        except AppError as e:
            raise OptimizeFailed(f"{e.code}: {e.message}") from e
