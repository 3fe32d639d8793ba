"""Dynamics 365 / Dataverse facts the adapter, the receiver and the tests share; each is written here once."""

from __future__ import annotations

from ..client import CallLimit
from ..fields import NAMESPACE

PLATFORM = "dynamics"
DEFAULT_PREFIX = NAMESPACE  # publisher prefix of the CEM columns (cem_cemjourneystage ...), configurable
APPLICATION_USER_SETTING = "application_user_id"  # changes made by this user are the connector's own

# Service protection limits, per user (the application user) and per web server (powerapps-docs api-limits.md;
# docs/capacity.md). Exceeding any of them answers 429 with Retry-After.
REQUEST_LIMIT = CallLimit(6_000, 300.0, "service protection limit")  # requests per 5-minute sliding window
EXECUTION_TIME_LIMIT = 1_200.0  # seconds of combined execution time per 5 minutes: only the server can measure it
MAX_CONCURRENT_REQUESTS = 52  # per user; each client bounds its own concurrency well under it
