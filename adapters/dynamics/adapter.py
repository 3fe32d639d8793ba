"""Microsoft Dynamics 365 / Dataverse adapter (Web API v9.2).

Settings (non-secret): ``org_url`` (https://<env>.crm.dynamics.com), ``tenant_id``, ``client_id``,
``prefix`` (publisher prefix, default ``cem``), ``option_value_prefix`` (default 10000),
``solution_unique_name``, ``publisher_unique_name``, ``application_user_id`` (loop prevention),
``organization_id`` (webhook routing), ``webhook_url`` / ``webhook_auth`` / ``webhook_header``,
optional ``authority_host`` and ``ca_bundle`` (sovereign clouds, TLS-inspecting proxies, the
sandbox), ``api_version``, ``max_concurrency``, ``changeset_size``, ``batch_size``.
Credentials: ``client_secret``, optional ``webhook_secret``.

Writes go through ``$batch`` (``write``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from cem_engine.model import ContactFacts, ContactInput

from ..base import ConnectionInfo, ContactPage, CRMAdapter, FieldUpdate, ProvisionReport, WriteResult
from ..errors import NotFound
from ..fields import FieldSpec, to_iso_z
from ..ids import guid
from . import links
from .auth import TokenProvider, endpoint_policy
from .bulk_read import MAX_IDS_PER_QUERY, BulkContactReader
from .client import WebApiClient
from .consts import APPLICATION_USER_SETTING
from .install import Installer
from .mapping import ColumnNaming
from .read import RESOLVERS, ContactReader, changed_contacts
from .write import MAX_BATCH_REQUESTS, FieldWriter


class DynamicsAdapter(CRMAdapter):
    platform = "dynamics"
    label = "Dynamics 365"
    write_batch_size: ClassVar[int] = MAX_BATCH_REQUESTS
    read_batch_size: ClassVar[int] = MAX_IDS_PER_QUERY  # the longest OData filter (activities) stays ~11 KB
    remembered_facts = (APPLICATION_USER_SETTING,)  # the receiver drops changes made by this user
    contact_id_form = staticmethod(guid)  # GUIDs are pasted in any case, sometimes in braces
    setting_keys = ("api_version", "authority_host", "batch_size", "ca_bundle", "changeset_size", "client_id",
                    "max_attempts", "max_concurrency", "max_inline_wait", "option_value_prefix", "org_url",
                    "organization_id", "parallel_batches", "prefix", "publisher_unique_name",
                    "solution_unique_name", "tenant_id", "timeout_seconds", "webhook_auth", "webhook_header",
                    "webhook_rotate")  # what `connect --setting` accepts
    webhook_registration = ("webhook_url", "webhook_secret")  # install registers the service endpoint
    # 0x80060888: "Could not find a property named 'cem_x' on type 'Microsoft.Dynamics.CRM.contact'"
    missing_field_pattern = re.compile(r"Could not find a property named '(\w+)'")
    frame_ancestors = links.FRAME_ANCESTORS  # CRM pages allowed to embed the rep's journey map
    record_url = staticmethod(links.record_url)

    def __init__(self, connection: ConnectionInfo) -> None:
        super().__init__(connection)
        settings = connection.settings
        self.naming = ColumnNaming.from_settings(settings)
        self.tokens = TokenProvider(settings, connection.credentials,
                                    endpoint_policy(settings, getattr(connection, "production", False)))
        self.client = WebApiClient(settings, self.tokens, gate=connection.call_gate)
        self.reader = ContactReader(self.client)
        self.bulk_reader = BulkContactReader(self.client)
        self.writer = FieldWriter(self.client, self.naming, settings)

    def native_field_name(self, spec: FieldSpec) -> str:
        return self.naming.logical_name(spec)

    # -- lifecycle ----------------------------------------------------------------------------
    def check_connection(self) -> dict[str, Any]:
        who = self.client.get_json("WhoAmI", describe="WhoAmI")
        organization = str(who.get("OrganizationId") or "").lower() or None
        # account_id routes webhooks (RemoteExecutionContext.OrganizationId); application_user_id is the
        # InitiatingUserId of our own writes (loop prevention).
        return {"account_id": organization, "organization_id": organization,
                APPLICATION_USER_SETTING: str(who.get("UserId") or "").lower() or None,
                "business_unit_id": who.get("BusinessUnitId"), "org_url": self.client.org_url}

    def provision(self, *, dry_run: bool = False) -> ProvisionReport:
        return Installer(self.client, self.connection.settings, self.connection.credentials, self.naming,
                         self.fields).run(
            dry_run=dry_run)

    # -- reading --------------------------------------------------------------------------------
    def fetch_contact(self, contact_id: str) -> ContactInput:
        # 7 queries; the batch reader needs 8 (it also reads activity parties to tell contacts apart).
        facts = self.reader.contact(contact_id)  # raises NotFound for a deleted contact
        return ContactInput(contact=facts, deals=tuple(self.reader.deals(contact_id)),
                            interactions=tuple(self.reader.interactions(contact_id)))

    def fetch_contacts(self, contact_ids: Sequence[str]) -> dict[str, ContactInput]:
        # ~8 queries per 100 contacts instead of ~7 per contact (adapters/bulk_read.py).
        return self.bulk_reader.read(contact_ids)

    def fetch_contact_records(self, contact_ids: Sequence[str]) -> dict[str, ContactFacts]:
        return self.bulk_reader.records(contact_ids)

    def contacts_for(self, object_type: str, object_id: str) -> list[str]:
        if object_type == "contact":
            return [object_id]
        resolver = RESOLVERS.get(object_type)
        if resolver is None:
            return []
        try:
            return resolver(self.client, object_id)
        except NotFound:
            return []

    def contacts_with_changed_interactions(self, since: datetime) -> list[str]:
        return changed_contacts(self.client, to_iso_z(since).replace(".000Z", "Z"))

    def list_contacts(self, cursor: str | None = None, *, modified_since: datetime | None = None,
                      page_size: int = 100) -> ContactPage:
        if cursor:  # the @odata.nextLink of the previous page, which carries the whole query
            body = self.client.get_json(cursor, page_size=page_size, describe="list contacts")
        else:
            params = {"$select": "contactid,modifiedon", "$orderby": "modifiedon asc,contactid asc", "$count": "true"}
            if modified_since is not None:
                params["$filter"] = f"modifiedon ge {to_iso_z(modified_since).replace('.000Z', 'Z')}"
            body = self.client.get_json("contacts", params, page_size=page_size, describe="list contacts")
        return ContactPage([str(r["contactid"]) for r in body.get("value", [])], body.get("@odata.nextLink"),
                           body.get("@odata.count"))

    def read_fields(self, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        select = ",".join(["contactid", *self.naming.columns()])
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(contact_ids), 50):  # keep each URL short (32 KB limit)
            chunk = contact_ids[start: start + 50]
            query = " or ".join(f"contactid eq {c}" for c in chunk)
            for row in self.client.rows("contacts", {"$select": select, "$filter": query}, describe="read CEM columns"):
                out[str(row["contactid"])] = {
                    spec.key: self.naming.from_native(spec, row.get(self.native_field_name(spec)))
                    for spec in self.fields}
        return out

    # -- writing --------------------------------------------------------------------------------
    def write_fields(self, updates: Sequence[FieldUpdate]) -> WriteResult:
        return self.writer.write(updates)

    def api_usage(self) -> dict[str, Any]:
        return {"calls": self.client.calls, **self.client.usage}
