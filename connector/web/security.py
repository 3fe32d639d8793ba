"""Browser-facing protections for every response: CSP and framing rules, nosniff, HSTS, cookies.

Rep pages (/journey/...) may be framed by the CRMs the connector serves (each adapter class names its
CRM's domains in ``frame_ancestors``); everything else, the console first, may not be framed at all.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler

from ..config import Settings
from ..errors import SettingsError
from ..registry import PLATFORMS
from ..runtime import Runtime

BASE_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; "
               "form-action 'self'; base-uri 'none'")
EMBEDDABLE_PREFIXES = ("/journey/", "/static/")
SERVER_NAME = "cem-connector"


class QuietRequestHandler(WSGIRequestHandler):
    """The development server's handler without `Server: Werkzeug/x.y Python/x.y` (gunicorn names no version)."""

    def version_string(self) -> str:
        return SERVER_NAME


def crm_frame_ancestors() -> list[str]:
    """The CRM domains allowed to embed rep pages, from every registered platform's adapter class."""
    origins: list[str] = []
    for platform in PLATFORMS.values():
        try:
            origins.extend(getattr(platform.adapter_class(), "frame_ancestors", ()))
        except Exception:  # one broken platform module must not take the others' embedding down
            continue
    return sorted(set(origins))


MIN_ADMIN_TOKEN = 24  # characters; token_urlsafe(24) gives 32
MIN_SIGNING_KEY = 32
_MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def check_production(settings: Settings) -> None:
    """In production the console's password and the link-signing key must be guess-proof, and the public
    URL https (the session cookie, the admin token and journey links travel over it)."""
    if not settings.production:
        return
    problems = []
    if len(settings.admin_token) < MIN_ADMIN_TOKEN:
        problems.append(f"CEM_ADMIN_TOKEN has {len(settings.admin_token)} characters; use at least "
                        f"{MIN_ADMIN_TOKEN} random ones")
    if len(settings.signing_key) < MIN_SIGNING_KEY:
        problems.append(f"CEM_SIGNING_KEY has {len(settings.signing_key)} characters; use at least "
                        f"{MIN_SIGNING_KEY} random ones")
    if not settings.public_url.startswith("https://"):
        problems.append(f"CEM_PUBLIC_URL is {settings.public_url!r}; in production it must be the https address "
                        "the CRMs and browsers use")
    if problems:
        raise SettingsError("Refusing to serve in production: " + "; ".join(problems)
                            + f". Make a key with: {_MAKE_ONE}")


def init_app(app: Flask, runtime: Runtime) -> None:
    settings = runtime.settings
    check_production(settings)
    https = settings.public_url.startswith("https://")
    public_host = urlsplit(settings.public_url).netloc
    # Sessions sign with a key derived from the signing key: one secret to manage, separate uses.
    app.secret_key = hmac.new(settings.signing_key.encode(), b"flask-session", hashlib.sha256).hexdigest()
    app.config.update(
        SESSION_COOKIE_NAME="cem_admin", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=https, PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        WTF_CSRF_CHECK_DEFAULT=False,  # require_admin checks the POSTs a browser could forge
        WTF_CSRF_TIME_LIMIT=8 * 3600,
    )
    framers = " ".join(["'self'", *crm_frame_ancestors()])

    @app.after_request
    def protect(response: Response) -> Response:
        embeddable = request.path.startswith(EMBEDDABLE_PREFIXES)
        ancestors = framers if embeddable else "'none'"
        response.headers["Content-Security-Policy"] = f"{BASE_POLICY}; frame-ancestors {ancestors}"
        if not embeddable:
            response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # journey URLs carry their token
        if https or request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.path.startswith(("/admin", "/journey/")):
            response.headers["Cache-Control"] = "no-store"
        _pin_redirect(response, public_host)
        return response


def _pin_redirect(response: Response, public_host: str) -> None:
    """Redirects never send the browser to whatever host the request's Host header named: a Location built
    from that header becomes a path; redirects to other sites (a CRM's consent screen) are left alone."""
    location = response.headers.get("Location")
    if not location:
        return
    parts = urlsplit(location)
    if parts.netloc and parts.netloc == request.host and parts.netloc != public_host:
        response.headers["Location"] = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
