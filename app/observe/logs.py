"""JSON log lines through the standard logging module: one object per line, extra fields merged in."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

FIELDS = "fields"  # `log.info("request", extra={"fields": {...}})`: merged into the JSON object


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", ...fields, "exc"?}` on one line; values that are not JSON as str."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line: `ts` (UTC, ms), level, logger, message, the keys of the dict passed as
        `extra={"fields": ...}`, and `exc` (the formatted traceback) when there is one."""
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str | int = "INFO") -> None:
    """Send the service's logs (`multivec.*`) and uvicorn's to stderr as JSON lines, at `level`.

    Called by `scripts/serve` before the server starts; tests leave logging to pytest.

    Raises:
        ValueError: `level` is not a logging level name.
    """
    if isinstance(level, str):
        name = level.strip().upper()
        if not isinstance(logging.getLevelName(name), int):
            raise ValueError(f"unknown log level {level!r} (use DEBUG, INFO, WARNING, ERROR)")
        level = name
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("multivec", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
