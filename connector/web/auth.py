"""Admin authentication and short-lived signed URLs for the embedded journey view."""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Response, current_app, render_template, request, session
from flask_wtf.csrf import CSRFProtect
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from redis.exceptions import RedisError

log = logging.getLogger("cem.web")


# Wrong admin tokens: after MAX_FAILURES from one address within LOCKOUT_SECONDS, that address is
# refused (429) until the window passes, even with the right token, so guessing stays hopeless.
MAX_FAILURES = 10
LOCKOUT_SECONDS = 15 * 60
SESSION_HOURS = 8
csrf = CSRFProtect()


def _admin_token() -> str:
    return current_app.extensions["cem"].settings.admin_token


def _presented_token() -> tuple[str | None, str]:
    """(token, how it came: bearer | basic | none); browsers send Basic by themselves, so it needs CSRF checks."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip(), "bearer"
    if header.startswith("Basic "):
        try:
            _, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "", "basic"
        return password, "basic"
    return None, "none"


def token_matches(token: str) -> bool:
    return hmac.compare_digest(token.encode(), _admin_token().encode())


def _failure_key() -> str:
    rt = current_app.extensions["cem"]
    return f"{rt.queue.prefix}admin-failures:{request.remote_addr or 'unknown'}"


def locked_for() -> int:
    """Seconds this address is still locked out (0: not locked)."""
    redis = current_app.extensions["cem"].redis
    try:
        failures = int(redis.get(_failure_key()) or 0)
        return max(1, int(redis.ttl(_failure_key()))) if failures >= MAX_FAILURES else 0
    except RedisError:
        log.warning("admin lockout state unavailable (Redis); attempts are not counted")
        return 0


def note_failure() -> None:
    redis = current_app.extensions["cem"].redis
    try:
        count = redis.incr(_failure_key())
        if count == 1:  # the window starts at the first failure (EXPIRE NX needs Redis 7)
            redis.expire(_failure_key(), LOCKOUT_SECONDS)
    except RedisError:
        return
    log.warning("wrong admin token from %s (%s of %s)", request.remote_addr, count, MAX_FAILURES)


def clear_failures() -> None:
    with contextlib.suppress(RedisError):
        current_app.extensions["cem"].redis.delete(_failure_key())


def log_in() -> None:
    session.clear()
    session.permanent = True
    session["admin"] = True


def is_api_request() -> bool:
    return request.path.startswith("/admin/api/") or request.accept_mimetypes.best == "application/json"


def _refuse(status: int, message: str, retry_after: int | None = None) -> Response:
    if is_api_request():
        response = Response(json.dumps({"error": message}), status=status, content_type="application/json")
    else:
        page = render_template("login.html", error=message if status != 401 or request.authorization else None,
                               next=request.full_path.rstrip("?"), locked=status == 429)
        response = Response(page, status=status, content_type="text/html; charset=utf-8")
    # Bearer, not Basic: browsers show the login page instead of their own password dialog.
    response.headers["WWW-Authenticate"] = 'Bearer realm="cem-connector admin"'
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def require_admin(view: Callable[..., Any]) -> Callable[..., Any]:
    """A signed-in session (console), or the token as Bearer (API) or as the Basic password.

    Every POST that a browser could send on its own (session cookie or Basic credentials) must carry
    the CSRF token; Bearer requests cannot be forged cross-site, so they need none.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wait = locked_for()
        if wait:
            return _refuse(429, f"Too many wrong admin tokens from your address; try again in {wait // 60 + 1} "
                                "minutes.", retry_after=wait)
        token, how = _presented_token()
        if token is not None:
            if not token or not token_matches(token):
                note_failure()
                return _refuse(401, "That admin token is not right. It is CEM_ADMIN_TOKEN from the server's "
                                    "environment.")
            clear_failures()
        elif not session.get("admin"):
            return _refuse(401, "Sign in with the admin token.")
        if request.method not in ("GET", "HEAD", "OPTIONS") and how != "bearer":
            csrf.protect()
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
