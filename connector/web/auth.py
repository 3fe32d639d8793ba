"""Admin authentication and short-lived signed URLs for the embedded journey view."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Response, current_app, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


def _admin_token() -> str:
    return current_app.extensions["cem"].settings.admin_token


def _presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    if header.startswith("Basic "):
        try:
            _, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return password
    return None


def require_admin(view: Callable[..., Any]) -> Callable[..., Any]:
    """Bearer token (API) or HTTP basic auth with the token as password (browser)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _presented_token()
        if not token or not hmac.compare_digest(token.encode(), _admin_token().encode()):
            return Response('{"error": "Admin authentication required: send the CEM_ADMIN_TOKEN as a Bearer token."}',
                            status=401, content_type="application/json",
                            headers={"WWW-Authenticate": 'Basic realm="cem-connector admin"'})
        return view(*args, **kwargs)

    return wrapper


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.extensions["cem"].settings.signing_key, salt="journey-view")


def sign_journey(connection_id: int, contact_id: str) -> str:
    return _serializer().dumps({"c": connection_id, "p": contact_id})


@dataclass(frozen=True)
class LinkProblem:
    title: str
    message: str
    hint: str
    expired: bool = False

    def __str__(self) -> str:
        return f"{self.title}: {self.message}"


_REOPEN = "Open the contact again in your CRM: it makes a fresh link each time the record is shown."


def verify_journey(token: str, connection_id: int, contact_id: str) -> LinkProblem | None:
    """None when valid, else what is wrong with the link and what to do."""
    ttl = current_app.extensions["cem"].settings.signed_url_ttl
    try:
        data = _serializer().loads(token, max_age=ttl)
    except SignatureExpired:
        return LinkProblem("This link has expired", f"Journey links work for {ttl // 60} minutes.", _REOPEN,
                           expired=True)
    except BadSignature:
        return LinkProblem("This link is not valid", "It is incomplete or was changed.", _REOPEN)
    if data != {"c": connection_id, "p": contact_id}:
        return LinkProblem("This link is for another record", "It does not match the contact in the address.",
                           _REOPEN)
    return None
