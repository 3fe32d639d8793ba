"""What every sandbox CRM offers to the demo, the tests and the benchmarks.

A sandbox is a real HTTP server (Flask app in a thread) that answers on the
same paths, with the same payloads, auth checks, batch limits and rate limits
as the real CRM, and sends signed webhooks to a target URL with the CRM's
retry behaviour. It is seeded from ``sandbox.dataset`` (exchange records).
Sandboxes never import the product code they stand in for.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from flask import Flask

from .sender import WebhookSender
from .server import ServerThread

T = TypeVar("T")
SEED_ORDER = {"contact": 0, "deal": 1, "interaction": 2}  # deals and interactions name a seeded contact


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are UTC (as the CRMs' APIs treat them)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items (the CRMs' per-request limits)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


class SandboxCRM(abc.ABC):
    platform: ClassVar[str]

    def __init__(self, *, time_scale: float = 0.001) -> None:
        # time_scale shrinks webhook retry delays (hours -> seconds) for tests and the demo
        self.time_scale = time_scale
        self._server: ServerThread | None = None
        self.webhook_url: str | None = None
        self.calls: list[tuple[str, str]] = []  # (method, path) of every API call, for assertions
        self.sender: WebhookSender = self.make_sender()

    # -- server ------------------------------------------------------------------------
    @abc.abstractmethod
    def create_app(self) -> Flask:
        """The Flask app answering on the CRM's real paths."""

    @abc.abstractmethod
    def make_sender(self) -> WebhookSender:
        """A sender that signs and retries exactly as the CRM does."""

    def start(self, port: int = 0) -> str:
        self._server = ServerThread(self.create_app(), port=port).start()
        return self._server.url

    def stop(self) -> None:
        self.sender.stop()
        if self._server:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server, "sandbox not started"
        return self._server.url

    # -- data ----------------------------------------------------------------------------
    def seed(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Load exchange-format records (contact / deal / interaction) as native objects, contacts first."""
        for record in sorted(records, key=lambda r: SEED_ORDER.get(str(r.get("record")), len(SEED_ORDER))):
            kind = record.get("record")
            if kind == "contact":
                self.seed_contact(record)
            elif kind == "deal":
                self.seed_deal(record)
            elif kind == "interaction":
                self.add_interaction(record, notify=False)

    @abc.abstractmethod
    def seed_contact(self, record: Mapping[str, Any]) -> Any:
        """Store one exchange-format contact as the CRM's contact record, without a webhook."""

    @abc.abstractmethod
    def seed_deal(self, record: Mapping[str, Any]) -> Any:
        """Store one exchange-format deal (opportunity) linked to its contact, without a webhook."""

    @abc.abstractmethod
    def connection_settings(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(settings, credentials) that `cem-connector connect` needs to reach this sandbox."""

    @abc.abstractmethod
    def contact_ids(self) -> list[str]:
        """Native ids of every contact, in seed order."""

    @abc.abstractmethod
    def native_contact_id(self, exchange_contact_id: str) -> str:
        """The native id given to a contact seeded from the exchange id ``c1``."""

    @abc.abstractmethod
    def contact_record(self, contact_id: str) -> dict[str, Any]:
        """The stored contact with every property, as the CRM holds it (test oracle)."""

    # -- webhooks ----------------------------------------------------------------------
    def subscribe(self, url: str, secret: str) -> None:
        """Point the CRM's webhooks at ``url``, signed/authenticated with ``secret``."""
        self.webhook_url = url
        self.webhook_secret = secret

    @abc.abstractmethod
    def emit_contact_changes(self, contact_ids: Iterable[str]) -> int:
        """Send the webhooks the CRM would send when these contacts changed; returns events sent."""

    @abc.abstractmethod
    def add_interaction(self, record: Mapping[str, Any], *, notify: bool = True) -> str:
        """Store one more exchange-format interaction (and send its webhook); returns its native id."""
