"""The Flask application factory (gunicorn: ``gunicorn 'connector.app:create_app()'``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, render_template, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings
from .logs import configure_logging
from .runtime import Runtime, get_runtime, set_runtime
from .web import admin, cards, journey, oauth, security, webhooks, words
from .web.auth import csrf

MAX_BODY_BYTES = 4 * 1024 * 1024
RETRY_AFTER_SECONDS = 30  # what an admin page asks for when the database or Redis is away
UNREACHABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


class AdminSessions(SecureCookieSessionInterface):
    """The signed admin cookie, opened only where a session can matter: a webhook delivery (no cookie, no
    sign-in) skipped a serializer build per request, ~0.1 ms of a single-event delivery's ~0.5 ms."""

    def open_session(self, app: Flask, request: Any) -> SessionMixin | None:
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return self.make_null_session(app)  # read as empty; writing it raises, so no view can rely on it
        return super().open_session(app, request)


SESSIONLESS_PREFIXES = ("/webhooks/",)


def create_app(runtime: Runtime | None = None, settings: Settings | None = None) -> Flask:
    if runtime is None:
        if settings is not None:
            runtime = Runtime(settings)
            set_runtime(runtime)
        else:
            runtime = get_runtime()
    app = Flask(__name__)
    app.session_interface = AdminSessions()
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["cem"] = runtime
    app.extensions["cem_targets"] = webhooks.TargetCache()
    hops = runtime.settings.trusted_proxies
    if hops:
        # Behind a proxy every request comes from the proxy's address: the sign-in lockout would lock out
        # every admin at once, and https would look like http. Trust exactly `hops` X-Forwarded-* entries.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    configure_logging(runtime.settings.log_level)
    security.init_app(app, runtime)
    app.add_template_filter(words.signed)
    csrf.init_app(app)

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(journey.bp)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(cards.bp)

    @app.get("/healthz")
    def healthz() -> Response:
        checks = {"database": _ok(lambda: runtime.store.engine.connect().close()),
                  "queue": _ok(runtime.redis.ping)}
        status = 200 if all(checks.values()) else 503
        return Response(json.dumps(checks), status=status, content_type="application/json")

    @app.errorhandler(413)
    def too_large(_error: Exception) -> Response:
        return _json_error(413, f"Body exceeds {MAX_BODY_BYTES} bytes.")

    @app.errorhandler(404)
    def not_found(_error: Exception) -> Response | tuple[str, int]:
        if _wants_page():
            return render_template("message.html", icon="🔎", title="Page not found",
                                   message="There is no page at this address.",
                                   hint="Open journey maps from the CRM record; the console is at /admin/."), 404
        return _json_error(404, "Not found.")

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> Response | tuple[str, int]:
        message = "The form expired or did not come from this console. Reload the page and try again."
        if _wants_page():
            return render_template("message.html", icon="🛡️", title="Request refused", message=message,
                                   hint=str(error.description)), 400
        return _json_error(400, f"{message} ({error.description})")

    @app.errorhandler(405)
    def not_allowed(_error: Exception) -> Response:
        return _json_error(405, "Method not allowed.")

    def unavailable(error: Exception) -> Response | tuple[str, int, dict[str, str]]:
        # The database or Redis is away (a failover, a restart): say so and when to retry, not "internal error".
        what = "queue (Redis)" if isinstance(error, RedisConnectionError | RedisTimeoutError) else "database"
        app.logger.warning("%s %s answered 503: the %s is unavailable (%s)", request.method, request.path, what,
                           type(error).__name__)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        message = f"The connector cannot reach its {what} right now."
        if _wants_page():
            return render_template("message.html", icon="⏳", title="Temporarily unavailable", message=message,
                                   hint=f"This usually passes within a minute: reload in {RETRY_AFTER_SECONDS} "
                                        "seconds. If it does not, `cem-connector status` on the server names "
                                        "the problem."), 503, headers
        response = _json_error(503, f"{message} Retry in {RETRY_AFTER_SECONDS} seconds.")
        response.headers.update(headers)
        return response

    for error_class in UNREACHABLE:
        app.register_error_handler(error_class, unavailable)

    @app.errorhandler(500)
    def server_error(_error: Exception) -> Response:
        # Never a stack trace to the caller; the log has the details.
        return _json_error(500, "Internal error; it has been logged.")

    return app


def _ok(check) -> bool:  # type: ignore[no-untyped-def]
    try:
        check()
    except Exception:
        return False
    return True


def _wants_page() -> bool:
    """Browsers get pages; API clients and CRMs (webhooks) get JSON."""
    if request.path.startswith(("/webhooks/", "/admin/api/")):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def _json_error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status=status, content_type="application/json")
