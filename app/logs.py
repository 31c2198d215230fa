"""JSON-lines logging: one object per line, with only the fields we choose to write, so that no
body, token, query string or EPU code can slip into a log through a message or a traceback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson

# The request fields a record may carry (passed with `extra=`); anything else is left out.
FIELDS = ("request_id", "method", "route", "status", "duration_ms", "role", "error_type")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        return orjson.dumps(line).decode()


def configure_logging() -> None:
    """JSON lines on stderr for the gateway's loggers, once per process."""
    logger = logging.getLogger("epu")
    # Nothing we write says where a record was made or by which thread or process: without
    # these, logging skips walking the stack for every record (its documented optimisation).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
