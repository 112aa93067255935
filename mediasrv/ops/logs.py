"""Log lines: JSON (or text for a terminal) on stderr, carrying the request and task ids.

REQUEST_ID and TASK_ID are set by the request middleware (ops.requests) and by the workers per job;
jobs reads REQUEST_ID to send it along with a task. Standard library only, so that every module,
domain or not, may import this one.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
TASK_ID: ContextVar[str | None] = ContextVar("task_id", default=None)  # set in workers, per job

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO, UTC), level, logger, message, request_id and task_id when
    there are, then any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            out["request_id"] = request_id
        task_id = TASK_ID.get()
        if task_id is not None:
            out["task_id"] = task_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # Non-ASCII kept as is: titles and regions are Chinese, and collectors read UTF-8.
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a terminal: the usual line, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = REQUEST_ID.get()
        return f"{line} [{request_id}]" if request_id is not None else line


class _Stderr(logging.StreamHandler[Any]):
    """Writes to whatever sys.stderr is at the time (as logging's last-resort handler does), so that a
    replaced stderr (test capture, a supervisor's redirect) is followed rather than a closed one kept."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


def configure_logging(json: bool, level: int | str = logging.INFO) -> None:
    """Send every logger's records to stderr, as JSON lines or as text; replaces earlier handlers."""
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def loggable_path(path: str) -> str:
    """The path without the signature of a signed playback link (it is a credential until it expires)."""
    if path.startswith("/s/"):
        _, _, rest = path[3:].partition("/")
        return f"/s/…/{rest}"
    return path
