"""Structured logs: one JSON object a line (LOG_FORMAT=json), for log shippers.

Whatever a call passes in `extra` becomes a field, so `log.info(..., extra={"ticket_id":
ticket.pk, "notification_id": n.pk})` can be searched by id. A traceback is one field too:
json.dumps escapes its line breaks, so an event never spans two lines.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Every attribute a LogRecord has before `extra` is merged in; the rest came from `extra`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            # The record's own wall-clock time, not a frozen test clock's.
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                event[key] = value
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            event["exception"] = record.exc_text
        if record.stack_info:
            event["stack"] = self.formatStack(record.stack_info)
        return json.dumps(event, default=str, ensure_ascii=False)
