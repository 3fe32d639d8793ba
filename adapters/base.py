"""The contract every CRM adapter implements, and the types it trades in.

An adapter is a thin, synchronous edge: it knows one CRM's URLs, payloads,
auth and limits, and speaks ``cem_engine`` types to the rest of the product.
It never touches Flask, the queue or the database; the connector hands it a
``ConnectionInfo`` and a callback for refreshed credentials.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from cem_engine.model import ContactFacts, ContactInput

from .errors import NotFound
from .fields import CEM_FIELDS, FieldSpec

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items: the platforms' batch limits, in one place."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass(frozen=True)
class ConnectionInfo:
    """What the connector knows about one connected CRM account."""

    id: int
    platform: str
    settings: Mapping[str, Any]  # non-secret: portal id, instance url, org id, prefix, api version...
    credentials: Mapping[str, Any]  # secret: tokens, keys, passwords (decrypted in memory only)
    # Called with the new credentials after a token refresh so the connector can persist them.
    on_credentials_changed: Callable[[dict[str, Any]], None] | None = None
    # The CEM fields as the engine config shapes them (Churn Reason options = the configured taxonomy).
    fields: Sequence[FieldSpec] = CEM_FIELDS
    # Production: credentials go only to the vendor's https hosts (adapters.endpoints).
    production: bool = False
    # The connection's API budget shared by every worker process: ``call_gate(limit, window)`` counts a
    # call and returns 0 when it may go now, else the seconds until the rolling window has room.
    call_gate: Callable[[int, float], float] | None = None


@dataclass
class ProvisionStep:
    """One item of an install plan or report."""

    action: str  # create | update | unchanged | assign | register | publish
    target: str  # human-readable: "property cem_emotion_score on contacts"
    detail: str = ""


@dataclass
class ProvisionReport:
    steps: list[ProvisionStep] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(s.action not in ("unchanged", "todo") for s in self.steps)

    @property
    def todo(self) -> list[ProvisionStep]:
        """Steps install could not do: the admin must act (their detail says how)."""
        return [s for s in self.steps if s.action == "todo"]

    def add(self, action: str, target: str, detail: str = "") -> None:
        self.steps.append(ProvisionStep(action, target, detail))


@dataclass(frozen=True)
class FieldUpdate:
    """CEM values for one contact, keyed by ``adapters.fields`` keys (platform-neutral)."""

    contact_id: str
    values: Mapping[str, Any]


@dataclass
class WriteResult:
    """Outcome of a batched write: which contacts took the values and which did not."""

    succeeded: list[str] = field(default_factory=list)
    # contact id -> the error for that record; retryable ones are retried, others dead-lettered
    failed: dict[str, Exception] = field(default_factory=dict)
    calls: int = 0  # API calls made


@dataclass(frozen=True)
class ContactPage:
    """One page of contact ids, for backfill and reconcile."""

    contact_ids: list[str]
    next_cursor: str | None
    total: int | None = None  # when the CRM says how many there are in all


# settings every platform understands: the account id `connect` records, and the private-endpoint opt-in
COMMON_SETTINGS = ("account_id", "private_endpoint")


class CRMAdapter(abc.ABC):
    """Base class of every platform adapter (``adapters/<platform>/``, exported by the package)."""

    platform: ClassVar[str]
    label: ClassVar[str]  # "HubSpot", "Salesforce", "Dynamics 365"
    write_batch_size: ClassVar[int]  # the platform's max records per write call
    # Contacts per refresh: the most one round of batch reads covers at its fewest calls (a read of
    # 2 contacts costs as many calls as a read of this many), so the refresh coalescer fills up to it.
    read_batch_size: ClassVar[int] = 50

    def refresh_interval(self) -> float:
        """Seconds between refresh rounds that keeps their calls inside the CRM's short rate limit.

        The refresh coalescer waits this long after a round before handing out a part-full batch
        (a full batch goes at once): rounds then spend the budget evenly instead of running into the
        wall and waiting. 0: the platform's limit is long-term (per day, per 5 minutes), no pacing.
        """
        return 0.0
    # Facts from check_connection() that receivers need later (e.g. the integration user, for loop
    # prevention); `connect` stores them in the connection's settings.
    remembered_facts: ClassVar[tuple[str, ...]] = ()
    # Origins of the CRM's own pages that may embed the rep's journey map (CSP frame-ancestors).
    frame_ancestors: ClassVar[tuple[str, ...]] = ()
    # The credential the CRM signs its webhooks with, when it is one (HubSpot: the app's client secret);
    # None: the connector generates a webhook secret and the admin configures the CRM with it.
    webhook_secret_credential: ClassVar[str | None] = None
    # When `install` registers the CRM-side webhook itself: the setting that holds its URL and the
    # credential that holds its secret; `connect` fills both in.
    webhook_registration: ClassVar[tuple[str, str] | None] = None
    # The non-secret settings this platform reads (`connect --setting` refuses others, naming these);
    # empty: not declared, anything accepted. A new setting must be added here, or connect refuses it.
    setting_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def known_settings(cls) -> tuple[str, ...]:
        """Every setting key `connect` accepts for this platform, sorted; () when the adapter declares none."""
        if not cls.setting_keys:
            return ()
        registration = (cls.webhook_registration[0],) if cls.webhook_registration else ()
        return tuple(sorted({*COMMON_SETTINGS, *cls.setting_keys, *cls.remembered_facts, *registration}))

    def __init__(self, connection: ConnectionInfo) -> None:
        self.connection = connection

    @staticmethod
    def contact_id_form(value: str) -> str:
        """A contact id as an admin may type or paste it, in the form the connector stores (the API's form)."""
        return value.strip()

    @staticmethod
    def record_url(settings: Mapping[str, Any], account_id: str | None, contact_id: str, interaction_id: str,
                   kind: str) -> str | None:
        """Where a person opens this interaction (or its contact) in the CRM; None when unknown."""
        return None

    # -- fields --------------------------------------------------------------------
    @property
    def fields(self) -> Sequence[FieldSpec]:
        return self.connection.fields

    # How the CRM words "this field does not exist" (the native name in group 1): a CEM field deleted
    # after install. The job layer then writes the other fields and tells the admin to run install.
    missing_field_pattern: ClassVar[re.Pattern[str] | None] = None

    def missing_fields(self, error: BaseException) -> list[str]:
        """Keys of the CEM fields ``error`` says the CRM does not have."""
        if self.missing_field_pattern is None:
            return []
        named = {name.lower() for name in self.missing_field_pattern.findall(str(error))}
        return [spec.key for spec in self.fields if self.native_field_name(spec).lower() in named]

    @abc.abstractmethod
    def native_field_name(self, spec: FieldSpec) -> str:
        """The field's API name in this CRM (cem_journey_stage, CEM_Journey_Stage__c, ...)."""

    # -- lifecycle -----------------------------------------------------------------
    @abc.abstractmethod
    def check_connection(self) -> dict[str, Any]:
        """Authenticate and return facts about the account (id, name, user) or raise."""

    @abc.abstractmethod
    def provision(self, *, dry_run: bool = False) -> ProvisionReport:
        """Create the CEM fields (and what makes them visible), idempotently."""

    # -- reading -------------------------------------------------------------------
    @abc.abstractmethod
    def fetch_contact(self, contact_id: str) -> ContactInput:
        """The contact with its deals and interactions, mapped to engine types.

        Raises NotFound when the contact does not exist (any more).
        """

    def fetch_contacts(self, contact_ids: Sequence[str]) -> dict[str, ContactInput]:
        """Several contacts at once; contacts that no longer exist are left out.

        Platforms override this with batch reads; the default reads one by one.
        """
        found: dict[str, ContactInput] = {}
        for contact_id in contact_ids:
            try:
                found[str(contact_id)] = self.fetch_contact(contact_id)
            except NotFound:
                continue
        return found

    def fetch_contact_records(self, contact_ids: Sequence[str]) -> dict[str, ContactFacts] | None:
        """Only the contacts' own records (no interactions, no deals), for a refresh after property edits
        (connector.recent_reads); contacts that no longer exist are left out.

        None: this platform has no cheaper read of the record alone, and such refreshes read everything.
        """
        return None

    @abc.abstractmethod
    def contacts_for(self, object_type: str, object_id: str) -> list[str]:
        """Contacts associated with an interaction or deal (for engagement webhooks)."""

    @abc.abstractmethod
    def list_contacts(self, cursor: str | None = None, *, modified_since: datetime | None = None,
                      page_size: int = 100) -> ContactPage:
        """A page of contact ids, oldest first, optionally only those changed since a time."""

    @abc.abstractmethod
    def contacts_with_changed_interactions(self, since: datetime) -> list[str]:
        """Contacts whose interactions, cases or deals were created or modified since ``since``, by anyone
        (the connector's own user included). Activities do not touch the contact record, so reconcile
        asks for both this and ``list_contacts(modified_since=...)``."""

    def iter_contacts(self, *, modified_since: datetime | None = None) -> Iterator[ContactPage]:
        cursor: str | None = None
        while True:
            page = self.list_contacts(cursor, modified_since=modified_since)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    # -- writing -------------------------------------------------------------------
    @abc.abstractmethod
    def write_fields(self, updates: Sequence[FieldUpdate]) -> WriteResult:
        """Write CEM values onto contacts in as few calls as the platform allows."""

    @abc.abstractmethod
    def read_fields(self, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The CEM values currently on these contacts, keyed by platform-neutral keys
        (values parsed back: numbers as float/int, datetimes as aware datetimes)."""

    def api_usage(self) -> dict[str, Any]:
        """API calls this instance made (``calls``) and what it last learnt about limits."""
        return {}

    # -- OAuth consent flow (platforms whose apps are installed by an admin's click) ----------------
    @classmethod
    def oauth_authorize_url(cls, settings: Mapping[str, Any], credentials: Mapping[str, Any], *,
                            redirect_uri: str, state: str, production: bool = False) -> str:
        """Where to send the admin to grant access; ``state`` protects the callback against CSRF."""
        from .errors import ConfigurationError

        raise ConfigurationError(f"{cls.label} connections do not use an OAuth consent screen; "
                                 "see `cem-connector connect --help`.")

    @classmethod
    def oauth_complete(cls, settings: Mapping[str, Any], credentials: Mapping[str, Any], *, code: str,
                       redirect_uri: str, production: bool = False) -> dict[str, Any]:
        """Exchange the authorization code for the credentials to store."""
        from .errors import ConfigurationError

        raise ConfigurationError(f"{cls.label} connections do not use an OAuth consent screen.")
