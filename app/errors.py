"""Domain errors (no HTTP here) and the one table that maps them to status codes."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error the service reports to a client."""

    code = "error"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(AppError):
    """A request value the service refuses (422): the message names the field and the limit or rule."""

    code = "invalid_input"


class UnsupportedMediaType(AppError):
    """A request body sent as something other than uncompressed UTF-8 JSON (415): the message names the
    content-type, charset or content-encoding received and the one accepted."""

    code = "unsupported_media_type"


class UnknownSpace(AppError):
    """A space (or weight) named in a request or migration that the registry does not know (422)."""

    code = "unknown_space"


class UnknownPlan(AppError):
    """A search names a plan that settings do not define (`MULTIVEC_SEARCH__PLANS`)."""

    code = "unknown_plan"


class DocumentNotFound(AppError):
    """No document with this id in the served collection (404)."""

    code = "document_not_found"


class NoLearnedScorer(AppError):
    """Fusion "learned" asked for with no learned scorer stored, or one fitted on other vector versions."""

    code = "learned_scorer_unavailable"


class CollectionNotFound(AppError):
    """No collection (or alias) of this name in the store (404)."""

    code = "collection_not_found"


class Conflict(AppError):
    """A precondition of an operation does not hold (for example promoting an incomplete version)."""

    code = "conflict"


class BackupNotFound(AppError):
    """No backup (or no manifest in it) where one was named."""

    code = "backup_not_found"


class BackupInvalid(AppError):
    """A backup whose manifest does not parse or whose files do not match their checksums."""

    code = "backup_invalid"


class StoreUnavailable(AppError):
    """The store failed or cannot be reached after bounded retries (503); the one error RetryingStore retries."""

    code = "store_unavailable"


class SearchDeadline(StoreUnavailable):
    """A fan-out search in which no fused space answered within its deadline (each timed out, failed, or
    found the request pool full) (503); `detail` names each space, what happened to it, and the budget."""

    code = "search_deadline"


class DiskFull(StoreUnavailable):
    """The embedded store refused a write, an optimisation or a snapshot that could fill its disk (503):
    `detail` gives the free and needed MB and the folder (app.store.edge_disk)."""

    code = "disk_full"


class CollectionChanged(AppError):
    """A write or search named a vector the collection does not have: a restore or a migration replaced the
    collection after the request read the registry (503; a write re-reads the registry and tries again first).
    Not a `StoreUnavailable`: the store answered, and the same request would fail the same way."""

    code = "collection_changed"


class StoreLocked(AppError):
    """Another process holds the embedded data folder."""

    code = "store_locked"


class EncoderFailed(AppError):
    """An encoder model could not be loaded or failed on a batch (503)."""

    code = "encoder_failed"


class Unauthorized(AppError):
    """No valid credential: a missing or wrong API key or admin token."""

    code = "unauthorized"


class Forbidden(AppError):
    """A valid credential that does not allow this call (the read-only key on a write)."""

    code = "forbidden"


# The one table: error class -> HTTP status. A subclass not listed takes its base's status.
STATUS_BY_ERROR: dict[type[AppError], int] = {
    InvalidInput: 422,
    UnsupportedMediaType: 415,
    UnknownSpace: 422,
    UnknownPlan: 422,
    NoLearnedScorer: 422,
    DocumentNotFound: 404,
    CollectionNotFound: 404,
    Conflict: 409,
    BackupNotFound: 404,
    BackupInvalid: 422,
    Unauthorized: 401,
    Forbidden: 403,
    StoreUnavailable: 503,
    SearchDeadline: 503,
    DiskFull: 503,
    StoreLocked: 503,
    CollectionChanged: 503,
    EncoderFailed: 503,
}


def status_for(error: AppError) -> int:
    """The HTTP status of `error` from STATUS_BY_ERROR (its nearest listed class); 500 for none."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 500


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    """The JSON body of every error answer: `{code, message, detail}`."""
    return {"code": code, "message": message, "detail": detail}
