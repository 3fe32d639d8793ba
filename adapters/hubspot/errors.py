"""Turn hubspot-api-client failures into ``adapters.errors`` types with messages an admin can act on.

HubSpot error bodies (api-reference/error-handling) carry ``category`` (e.g.
``EXPIRED_AUTHENTICATION``, ``MISSING_SCOPES``, ``RATE_LIMITS``, ``VALIDATION_ERROR``),
a ``message`` and, for missing scopes, ``errors[].context.requiredGranularScopes``.
Every generated SDK package has its own ``ApiException`` class, so they are
recognised by shape (status + headers + body) rather than by one import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import urllib3

from .. import http
from ..errors import AdapterError, AuthenticationError, TransientError
from .consts import PLATFORM


def is_api_exception(error: BaseException) -> bool:
    return type(error).__name__.endswith("Exception") and type(error).__module__.startswith("hubspot.") and \
        hasattr(error, "status") and hasattr(error, "body")


def error_body(error: Any) -> dict[str, Any]:
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {"message": str(body)[:300]}
    return data if isinstance(data, dict) else {}


def required_scopes(body: dict[str, Any]) -> list[str]:
    scopes: list[str] = []
    for detail in body.get("errors") or []:
        context = (detail or {}).get("context") or {} if isinstance(detail, dict) else {}
        for key in ("requiredGranularScopes", "requiredScopes"):
            for scope in context.get(key) or []:
                if scope not in scopes:
                    scopes.append(str(scope))
    return scopes


def is_expired_token(error: AdapterError) -> bool:
    return isinstance(error, AuthenticationError) and getattr(error, "category", None) == "EXPIRED_AUTHENTICATION"


def from_api_exception(error: Any, action: str) -> AdapterError:
    """The typed error for an SDK ``ApiException`` raised while doing ``action``."""
    status = getattr(error, "status", None) or 0
    headers = getattr(error, "headers", None) or {}
    body = error_body(error)
    category = str(body.get("category") or body.get("errorType") or "")
    reason = str(body.get("message") or getattr(error, "reason", "") or "no details")[:500]
    message = f"HubSpot refused {action} (HTTP {status}{', ' + category if category else ''}): {reason}"
    if status == 401:
        hint = ("The access token expired; it is refreshed automatically when a refresh token is stored."
                if category == "EXPIRED_AUTHENTICATION" else
                "Reconnect HubSpot (cem-connector connect hubspot) or paste a new private app access token.")
        message = f"{message} {hint}"
    elif status == 403:
        scopes = required_scopes(body)
        if scopes or category == "MISSING_SCOPES":
            needed = ", ".join(scopes) if scopes else "see the HubSpot message"
            message = (f"{message} Grant the app these scopes and reinstall/reauthorise it: {needed}.")
        else:
            message = f"{message} Check the app's scopes and the installing user's permissions in HubSpot."
    elif status == 429:
        policy = body.get("policyName")
        message = f"{message}{' (policy ' + str(policy) + ')' if policy else ''}"
    retry_after = http.parse_retry_after(http.header(headers, "Retry-After"))
    if status == 429 and retry_after is None:
        # HubSpot's 429 often has no Retry-After: the ten-second window or midnight (daily) decides
        retry_after = 10.0 if str(body.get("policyName") or "") != "DAILY" else 3600.0
    mapped = http.error_for_status(status, message, platform=PLATFORM, retry_after=retry_after)
    mapped.category = category or None  # type: ignore[attr-defined]
    mapped.required_scopes = required_scopes(body)  # type: ignore[attr-defined]
    mapped.body = body  # type: ignore[attr-defined]  # batch callers look for record ids in it
    return mapped


def from_transport_error(error: BaseException, action: str) -> AdapterError:
    """Connection refused, reset, timed out: always worth retrying later."""
    return TransientError(f"Could not reach HubSpot while {action}: {type(error).__name__}", status=None,
                          platform=PLATFORM)


TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)



def call_raw(call: Callable[[], Any], action: str,
             on_error_headers: Callable[[Any], None] | None = None) -> tuple[Any, bytes]:
    """Run one SDK ``*_with_http_info(_preload_content=False)`` call: (response, raw body).

    Transport failures and the SDK's ApiExceptions come out as ``adapters.errors`` types;
    ``on_error_headers`` still sees an error answer's headers (rate-limit bookkeeping).
    """
    try:
        response = call()
        raw = response.data
        response.release_conn()
    except TRANSPORT_ERRORS as error:
        raise from_transport_error(error, action) from error
    except Exception as error:
        if not is_api_exception(error):
            raise
        if on_error_headers is not None:
            on_error_headers(getattr(error, "headers", None) or {})
        raise from_api_exception(error, action) from error
    return response, raw
