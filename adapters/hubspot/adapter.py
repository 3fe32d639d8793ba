"""HubSpot adapter: hubspot-api-client against api.hubapi.com (or the sandbox via ``api_base_url``).

Endpoints (crm-apis.md §1.3-1.7, SDK sources): properties ``/crm/v3/properties/contacts[/groups|/batch/create]``,
contacts ``/crm/v3/objects/contacts`` (+ ``/search``, ``/batch/read``, ``/batch/update``), engagements
``/crm/v3/objects/{type}/batch/read``, associations ``/crm/v4/associations/{from}/{to}/batch/read`` and
``/crm/v4/objects/{type}/{id}/associations/contacts``, pipelines ``/crm/v3/pipelines/deals``, token info
``/oauth/v1/access-tokens/{token}`` (OAuth) or ``/oauth/v2/private-apps/get/access-token-info`` (private app).

Responses are read raw (``_preload_content=False``) so we see status (200 vs 207), the rate-limit
headers and the exact JSON the API sent; request bodies use the SDK models.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from cem_engine.model import ContactFacts, ContactInput

from ..base import ContactPage, CRMAdapter, FieldUpdate, ProvisionReport, WriteResult
from ..errors import ConfigurationError, NotFound
from ..fields import FieldSpec
from ..http import RetryPolicy
from . import auth, install, links, mapping
from .client import HubSpotClient
from .consts import APP_ID_SETTING, PLATFORM, WEBHOOK_SECRET_CREDENTIAL
from .read import READ_BATCH, ROUND_CALLS, ContactReader
from .write import WRITE_BATCH, FieldWriter


class HubSpotAdapter(CRMAdapter):
    platform = PLATFORM
    label = "HubSpot"
    write_batch_size = WRITE_BATCH
    read_batch_size = READ_BATCH  # one v3 batch read of contacts; association reads take 1,000
    remembered_facts = (APP_ID_SETTING,)
    setting_keys = ("api_base_url", "app_id", "app_name", "app_url", "authorize_url", "optional_scopes", "portal_id",
                    "renewal_date_property", "scopes", "signature_version")  # what `connect --setting` accepts
    # batch update 400 VALIDATION_ERROR: PROPERTY_DOESNT_EXIST, 'Property "cem_x" does not exist'
    missing_field_pattern = re.compile(r'Property \\?"([A-Za-z0-9_]+)\\?" does not exist')
    webhook_secret_credential = WEBHOOK_SECRET_CREDENTIAL
    frame_ancestors = links.FRAME_ANCESTORS  # CRM pages allowed to embed the rep's journey map
    record_url = staticmethod(links.record_url)

    def __init__(self, connection: Any, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, retry_policy: RetryPolicy | None = None,
                 timeout: Any = auth.DEFAULT_TIMEOUT) -> None:
        super().__init__(connection)
        self.client = HubSpotClient(connection, sleep=sleep, clock=clock, policy=retry_policy, timeout=timeout)
        self.reader = ContactReader(self.client, connection.settings, self.fields)
        self.writer = FieldWriter(self.client)

    def refresh_interval(self) -> float:
        # The limit the account reported (100 or 190 calls / 10 s by tier); before the first answer, no pacing.
        limit = float(self.client.usage.get("limit") or 0)
        interval = float(self.client.usage.get("interval_ms") or 10_000) / 1000.0
        return ROUND_CALLS * interval / limit if limit else 0.0

    @classmethod
    def oauth_authorize_url(cls, settings: Mapping[str, Any], credentials: Mapping[str, Any], *,
                            redirect_uri: str, state: str, production: bool = False) -> str:
        client_id = credentials.get("client_id")
        if not client_id:
            raise ConfigurationError("Set the app's client_id (and client_secret) with `cem-connector connect "
                                     "hubspot --credential client_id=... --credential client_secret=...`.",
                                     platform=cls.platform)
        return auth.authorize_url(
            client_id=client_id, redirect_uri=redirect_uri, state=state,
            scopes=settings.get("scopes") or auth.REQUIRED_SCOPES,
            optional_scopes=settings.get("optional_scopes") or auth.OPTIONAL_SCOPES,
            authorize_base=auth.endpoint_policy(settings, production).check(
                settings.get("authorize_url") or auth.AUTHORIZE_URL, "authorize_url"))

    @classmethod
    def oauth_complete(cls, settings: Mapping[str, Any], credentials: Mapping[str, Any], *, code: str,
                       redirect_uri: str, production: bool = False) -> dict[str, Any]:
        fresh = auth.exchange_code(
            code, client_id=credentials["client_id"], client_secret=credentials["client_secret"],
            redirect_uri=redirect_uri,
            api_base_url=auth.endpoint_policy(settings, production).check(
                settings.get("api_base_url") or auth.DEFAULT_API_BASE_URL, "api_base_url"))
        return {**dict(credentials), **fresh}

    def api_usage(self) -> dict[str, Any]:
        return {"calls": self.client.calls, **self.client.usage}

    def native_field_name(self, spec: FieldSpec) -> str:
        return mapping.property_name(spec)

    # -- lifecycle -----------------------------------------------------------------------------
    def check_connection(self) -> dict[str, Any]:
        token = self.client.credentials["access_token"]
        if self.client.credentials.get("refresh_token"):
            self.client.refresh_if_due()
            token = self.client.credentials["access_token"]
            _, info = self.client.request("reading the OAuth token info", "oauth.access_tokens_api", "get", token)
            facts = {"auth": "oauth", "hub_id": info.get("hub_id"), "app_id": info.get("app_id"),
                     "scopes": info.get("scopes") or [], "user": info.get("user"), "hub_domain": info.get("hub_domain")}
        else:
            try:
                info = self.client.private_app_info(token)
            except NotFound:
                # token info is a convenience; the contacts read below is what proves the token works
                settings = self.connection.settings
                info = {"hubId": settings.get("portal_id"), "appId": settings.get("app_id")}
            facts = {"auth": "private_app", "hub_id": info.get("hubId"), "app_id": info.get("appId"),
                     "scopes": info.get("scopes") or [], "user_id": info.get("userId")}
        # proves the token can read contacts (the scope everything else needs)
        self.client.request("reading contacts", "crm.contacts.basic_api", "get_page", limit=1)
        facts["account_id"] = str(facts["hub_id"]) if facts.get("hub_id") is not None else None
        return facts

    def provision(self, *, dry_run: bool = False) -> ProvisionReport:
        return install.provision(self.client, self.fields, dry_run=dry_run)

    # -- reading -------------------------------------------------------------------------------
    def fetch_contact(self, contact_id: str) -> ContactInput:
        found = self.fetch_contacts([contact_id])
        if str(contact_id) not in found:
            raise NotFound(f"HubSpot contact {contact_id} does not exist (any more).", platform=self.platform)
        return found[str(contact_id)]

    def fetch_contacts(self, contact_ids: Sequence[str]) -> dict[str, ContactInput]:
        return self.reader.fetch_contacts(contact_ids)

    def fetch_contact_records(self, contact_ids: Sequence[str]) -> dict[str, ContactFacts]:
        return self.reader.fetch_contact_records(contact_ids)

    def contacts_for(self, object_type: str, object_id: str) -> list[str]:
        return self.reader.contacts_for(object_type, object_id)

    def list_contacts(self, cursor: str | None = None, *, modified_since: datetime | None = None,
                      page_size: int = 100) -> ContactPage:
        return self.reader.list_contacts(cursor, modified_since=modified_since, page_size=page_size)

    def contacts_with_changed_interactions(self, since: datetime) -> list[str]:
        return self.reader.contacts_with_changed_interactions(since)

    def read_fields(self, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self.reader.read_fields(contact_ids)

    # -- writing -------------------------------------------------------------------------------
    def write_fields(self, updates: Sequence[FieldUpdate]) -> WriteResult:
        return self.writer.write(updates)
