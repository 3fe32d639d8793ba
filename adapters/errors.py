"""One exception root for every CRM adapter, with typed subclasses.

The connector decides what to do from the type alone: retry later, stop and
tell the admin, or dead-letter one record.
"""

from __future__ import annotations


class AdapterError(Exception):
    """Root of every error an adapter raises."""

    retryable: bool = False
    retry_after: float | None = None  # seconds the CRM asked us to wait, when it said so

    def __init__(self, message: str, *, status: int | None = None, platform: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.platform = platform


class ConfigurationError(AdapterError):
    """The connection's settings are incomplete or contradictory; an admin must fix them."""


class AuthenticationError(AdapterError):
    """The CRM refused our credentials (expired, revoked, wrong)."""


class PermissionDenied(AdapterError):
    """Authenticated, but not allowed (missing scope, field-level security...)."""


class NotFound(AdapterError):
    """The record does not exist (any more)."""


class TransientError(AdapterError):
    """A server-side or network fault that a later retry can fix (5xx, timeouts)."""

    retryable = True


class RateLimited(TransientError):
    """The CRM asked us to slow down; ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class BudgetExhausted(AdapterError):
    """Our own configured API budget for the day is used up; resume when it resets."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class InvalidRequest(AdapterError):
    """The CRM said the request itself is wrong (4xx that retrying cannot fix)."""


class UnknownOption(InvalidRequest):
    """The CRM refused a picklist value it does not have yet (an admin added a churn reason to the engine
    config but has not re-run install): every write of that value fails until they do."""

    def __init__(self, crm_message: str, *, platform: str, **kw: object) -> None:
        super().__init__(f"{crm_message} - the CRM does not have this picklist option yet (a churn reason added "
                         f"to the engine config?): run `cem-connector install {platform}` to add it, then "
                         "`cem-connector replay` to write the contacts that failed.", platform=platform, **kw)  # type: ignore[arg-type]
