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
    code = "invalid_input"


class UnknownSpace(AppError):
    code = "unknown_space"


class UnknownPlan(AppError):
    """A search names a plan that settings do not define (`MULTIVEC_SEARCH__PLANS`)."""

    code = "unknown_plan"


class DocumentNotFound(AppError):
    code = "document_not_found"


class CollectionNotFound(AppError):
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
    code = "store_unavailable"


class StoreLocked(AppError):
    """Another process holds the embedded data folder."""

    code = "store_locked"


class EncoderFailed(AppError):
    code = "encoder_failed"


class Unauthorized(AppError):
    """No valid credential: a missing or wrong API key or admin token."""

    code = "unauthorized"


class Forbidden(AppError):
    """A valid credential that does not allow this call (the read-only key on a write)."""

    code = "forbidden"


# The one table: error class -> HTTP status. Order matters only for subclasses (none today).
STATUS_BY_ERROR: dict[type[AppError], int] = {
    InvalidInput: 422,
    UnknownSpace: 422,
    UnknownPlan: 422,
    DocumentNotFound: 404,
    CollectionNotFound: 404,
    Conflict: 409,
    BackupNotFound: 404,
    BackupInvalid: 422,
    Unauthorized: 401,
    Forbidden: 403,
    StoreUnavailable: 503,
    StoreLocked: 503,
    EncoderFailed: 503,
}


def status_for(error: AppError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 500


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "detail": detail}
