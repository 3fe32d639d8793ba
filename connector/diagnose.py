"""One line an admin can act on, for every failure of the infrastructure around the connector.

The CLI and gunicorn's start-up hook turn these errors into that line and a non-zero exit instead
of a traceback; ``--debug`` (or ``CEM_DEBUG=1``) shows the traceback as well.
"""

from __future__ import annotations

import os

import redis
from sqlalchemy.exc import DBAPIError

from adapters.errors import AdapterError
from cem_engine.errors import CEMEngineError

from .errors import ConnectorError, QueueUnavailable
from .redis_conn import display_url

# errors whose message already says what is wrong and what to do (QueueUnavailable is made specific below)
_SELF_EXPLAINING = (ConnectorError, CEMEngineError)


def debug_requested() -> bool:
    return os.environ.get("CEM_DEBUG", "").lower() in ("1", "true", "yes")


def explain(error: BaseException) -> str | None:
    """The admin-facing line for a known failure, or None for a bug (which deserves its traceback)."""
    if isinstance(error, _SELF_EXPLAINING) and not isinstance(error, QueueUnavailable):
        return str(error).strip("'\"")
    if isinstance(error, AdapterError):
        return f"{type(error).__name__}: {error}"
    if isinstance(error, redis.AuthenticationError):
        return (f"Redis at {_redis_url()} refused the password ({_first_line(error)}). "
                "Fix the password in REDIS_URL (redis://:password@host:6379/0).")
    if isinstance(error, QueueUnavailable | redis.ConnectionError | redis.TimeoutError):
        cause = error.__cause__ if isinstance(error, QueueUnavailable) and error.__cause__ else error
        return (f"Cannot reach Redis at {_redis_url()} ({_first_line(cause)}). Check that Redis is running "
                "and that REDIS_URL names the right host and port.")
    if isinstance(error, DBAPIError):
        reason = _first_line(error.orig) if error.orig is not None else type(error).__name__
        return (f"The database failed ({reason}). Check that it is running and reachable as DATABASE_URL says; "
                "`cem-connector status` shows what else is down.")
    return None


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    return display_url(url) if url else "the embedded Redis"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
