"""The one retry policy of every job: when to try a failed job again, and when to give up.

Exponential backoff with jitter, never sooner than the CRM's ``Retry-After`` (carried on the error),
up to ``CEM_MAX_ATTEMPTS`` attempts; after that the work is dead-lettered.
"""

from __future__ import annotations

import random

from adapters.errors import AdapterError

from .config import Settings

MAX_DELAY = 3600.0


def backoff_delay(attempt: int, base: float, retry_after: float | None = None, cap: float = MAX_DELAY) -> float:
    """Exponential backoff with jitter, never sooner than the CRM's Retry-After."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    delay *= random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


def will_retry(error: Exception, attempt: int, settings: Settings) -> bool:
    """Whether a job that failed with ``error`` on attempt ``attempt`` gets another attempt."""
    return isinstance(error, AdapterError) and error.retryable and attempt < settings.max_attempts


def retry_delay(error: Exception, attempt: int, settings: Settings) -> float | None:
    """Seconds until attempt ``attempt + 1`` of a job that failed with ``error``; None means dead-letter."""
    if not will_retry(error, attempt, settings):
        return None
    return backoff_delay(attempt, settings.retry_base_seconds, getattr(error, "retry_after", None))
