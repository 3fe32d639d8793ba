"""Run a sandbox Flask app as a real HTTP(S) server on a loopback port, in a thread."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _Handler(WSGIRequestHandler):
    def version_string(self) -> str:
        return "sandbox"  # no framework version in the Server header (the apps under test are checked for it)


class ServerThread:
    """A threaded WSGI server on 127.0.0.1; port 0 picks a free port.

    ``ssl_context`` (cert file, key file) serves HTTPS; ``url_host`` names the host the
    certificate was made for (it must still resolve to loopback).
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *,
                 ssl_context: tuple[str, str] | None = None, url_host: str | None = None) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, ssl_context=ssl_context,
                                                     request_handler=_Handler)
        self.host = host
        self.port = self._server.server_port
        self._scheme = "https" if ssl_context else "http"
        self._url_host = url_host or host
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"{self._scheme}://{self._url_host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
