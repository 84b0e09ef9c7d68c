"""Structured logs: one JSON object per line, carrying the org, connection and
invoice ids passed as `extra={...}` so a support agent can grep one tenant."""
import json
import logging

CONTEXT_KEYS = ("organization_id", "connection_id", "invoice_id", "submission_id", "vendor", "event_id")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)
