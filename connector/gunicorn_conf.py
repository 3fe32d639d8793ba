"""gunicorn settings for the `web` process: ``gunicorn --config python:connector.gunicorn_conf``.

One file for the Procfile, the systemd unit and the container, so they cannot drift apart.
Environment: ``PORT`` (default 8000), ``WEB_CONCURRENCY`` (worker processes, default 2),
``CEM_ACCESS_LOG`` (``-`` = stdout, a file path, or ``off``).

Before any worker is forked the master checks the configuration, the database schema and the
Redis URL once, and stops with one line naming the problem (``CEM_DEBUG=1`` adds the traceback):
workers that cannot work would otherwise crash-loop with tracebacks.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from gunicorn.glogging import Logger

bind = f"{os.environ.get('CEM_BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
timeout = 30
# Webhook receivers answer in milliseconds; the access log is on and goes through the redaction
# below, so ?token= / ?code= / journey-link tokens never reach it in clear.
_access = os.environ.get("CEM_ACCESS_LOG", "-")
accesslog = None if _access.lower() == "off" else _access
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


class RedactingLogger(Logger):
    """gunicorn's logger with secrets removed from access and error lines."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from connector.logs import RedactSecrets

        for logger in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactSecrets) for f in logger.filters):
                logger.addFilter(RedactSecrets())


logger_class = RedactingLogger
# gunicorn 27 opens a control socket in $HOME by default; two instances on one host would share it
control_socket_disable = True


def on_starting(server: Any) -> None:
    from connector.diagnose import debug_requested, explain
    from connector.preflight import prepare_web

    try:
        prepare_web()
    except Exception as error:
        message = explain(error)
        if message is None or debug_requested():
            raise
        print(f"cem-connector: {message}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
