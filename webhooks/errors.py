"""One exception root for webhook handling; each maps to the HTTP status the caller sees.

Messages are safe to show to the sender: they say what is wrong, never how we
compute things and never a stack trace.
"""

from __future__ import annotations


class WebhookError(Exception):
    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedPayload(WebhookError):
    status = 400


class SignatureError(WebhookError):
    status = 401


class Forbidden(WebhookError):
    status = 403


class Unroutable(WebhookError):
    """Authenticated, but some events name an account none of the authenticating connections serves.

    Never acknowledged: the CRM keeps the events and redelivers them once the account is connected.
    """

    status = 403


class UnknownConnection(WebhookError):
    status = 404


class MethodNotAllowed(WebhookError):
    status = 405


class PayloadTooLarge(WebhookError):
    status = 413


class UnsupportedMediaType(WebhookError):
    status = 415


class ServiceUnavailable(WebhookError):
    """Raised by the sink when events cannot be persisted: the CRM must retry later."""

    status = 503
