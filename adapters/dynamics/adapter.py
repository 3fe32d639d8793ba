"""Microsoft Dynamics 365 / Dataverse adapter (Web API v9.2).

Settings (non-secret): ``org_url`` (https://<env>.crm.dynamics.com), ``tenant_id``, ``client_id``,
``prefix`` (publisher prefix, default ``cem``), ``option_value_prefix`` (default 10000),
``solution_unique_name``, ``publisher_unique_name``, ``application_user_id`` (loop prevention),
``organization_id`` (webhook routing), ``webhook_url`` / ``webhook_auth`` / ``webhook_header``,
optional ``authority_host`` and ``ca_bundle`` (sovereign clouds, TLS-inspecting proxies, the
sandbox), ``api_version``, ``max_concurrency``, ``changeset_size``, ``batch_size``.
Credentials: ``client_secret``, optional ``webhook_secret``.

Writes go through ``$batch`` with ``Prefer: odata.continue-on-error``, one change set per
``changeset_size`` PATCHes (default 100). A change set is atomic, so one bad record fails its
whole change set: the record named by the failed part's ``Content-ID`` is marked failed and the
other records of that change set are sent again as standalone parts (no change set) in one more
``$batch``, which isolates any further bad record precisely.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from cem_engine.model import ContactInput

from ..base import ConnectionInfo, ContactPage, CRMAdapter, FieldUpdate, ProvisionReport, WriteResult
from ..errors import AdapterError, InvalidRequest, NotFound, TransientError
from ..fields import FIELDS_BY_KEY, FieldSpec, to_iso_z
from ..http import error_for_status
from .auth import PLATFORM, TokenProvider
from .batch import BatchResponseError, Operation, PartResponse, build_batch, parse_batch_response
from .bulk_read import MAX_IDS_PER_QUERY, BulkContactReader
from .client import WebApiClient
from .consts import APPLICATION_USER_SETTING
from .install import Installer
from .mapping import ColumnNaming
from .read import RESOLVERS, ContactReader

MAX_BATCH_REQUESTS = 1000  # Dataverse: at most 1000 requests in one $batch


class DynamicsAdapter(CRMAdapter):
    platform = "dynamics"
    label = "Dynamics 365"
    write_batch_size: ClassVar[int] = MAX_BATCH_REQUESTS
    read_batch_size: ClassVar[int] = MAX_IDS_PER_QUERY  # the longest OData filter (activities) stays ~11 KB
    remembered_facts = (APPLICATION_USER_SETTING,)  # the receiver drops changes made by this user

    def __init__(self, connection: ConnectionInfo) -> None:
        super().__init__(connection)
        settings = connection.settings
        self.naming = ColumnNaming.from_settings(settings)
        self.tokens = TokenProvider(settings, connection.credentials)
        self.client = WebApiClient(settings, self.tokens)
        self.reader = ContactReader(self.client)
        self.bulk_reader = BulkContactReader(self.client)
        self.changeset_size = max(1, min(MAX_BATCH_REQUESTS, int(settings.get("changeset_size") or 100)))
        # Microsoft advises modest batches with parallelism over huge batches (execution-time limit).
        self.batch_size = max(1, min(MAX_BATCH_REQUESTS, int(settings.get("batch_size") or 200)))
        self.parallel_batches = max(1, min(8, int(settings.get("parallel_batches") or 2)))
        self._batch_path = urlsplit(self.client.root).path

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
        return Installer(self.client, self.connection.settings, self.connection.credentials, self.naming).run(
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
        result = WriteResult()
        operations: list[Operation] = []
        for update in updates:
            try:
                operations.append(self._operation(update, len(operations) + 1))
            except (ValueError, TypeError) as exc:
                result.failed[update.contact_id] = InvalidRequest(f"Cannot write CEM values: {exc}", platform=PLATFORM)
        batches = [operations[i: i + self.batch_size] for i in range(0, len(operations), self.batch_size)]
        with ThreadPoolExecutor(max_workers=self.parallel_batches) as pool:
            for partial in pool.map(self._write_batch, batches):
                result.succeeded.extend(partial.succeeded)
                result.failed.update(partial.failed)
                result.calls += partial.calls
        return result

    def _operation(self, update: FieldUpdate, content_id: int) -> Operation:
        body: dict[str, Any] = {}
        for key, value in update.values.items():
            spec = FIELDS_BY_KEY.get(key)
            if spec is None:
                raise ValueError(f"unknown CEM field '{key}'")
            body[self.native_field_name(spec)] = self.naming.to_native(spec, value)
        # If-Match: * makes the PATCH an update only: never create a contact that was deleted meanwhile.
        return Operation(str(content_id), "PATCH", f"{self._batch_path}contacts({update.contact_id})", body,
                         {"If-Match": "*"})

    def _write_batch(self, operations: list[Operation]) -> WriteResult:
        result = WriteResult()
        changesets = [operations[i: i + self.changeset_size] for i in range(0, len(operations), self.changeset_size)]
        items = self._send_batch(changesets, (), result)
        retry: list[Operation] = []
        for operations_in_set, item in zip(changesets, items, strict=True):
            if isinstance(item, list):
                result.succeeded.extend(_contact_of(op) for op in operations_in_set)
                continue
            culprit = next((op for op in operations_in_set if op.content_id == item.content_id), None)
            if culprit is not None:
                result.failed[_contact_of(culprit)] = _part_error(item, _contact_of(culprit))
            # The others were only rolled back with the culprit: send them again on their own.
            retry.extend(op for op in operations_in_set if op is not culprit)
        if retry:
            for op, part in zip(retry, self._send_batch((), retry, result), strict=True):
                if isinstance(part, PartResponse) and part.ok:
                    result.succeeded.append(_contact_of(op))
                else:
                    error_part = part if isinstance(part, PartResponse) else part[0]
                    result.failed[_contact_of(op)] = _part_error(error_part, _contact_of(op))
        return result

    def _send_batch(self, changesets: Sequence[Sequence[Operation]], singles: Sequence[Operation],
                    result: WriteResult) -> list[list[PartResponse] | PartResponse]:
        content_type, body = build_batch(changesets, singles)
        response = self.client.request("POST", "$batch", data=body, describe="write CEM values ($batch)", headers={
            "Content-Type": content_type, "Prefer": "odata.continue-on-error"})
        result.calls += 1
        try:
            items = parse_batch_response(response.headers.get("Content-Type", ""), response.content)
        except BatchResponseError as exc:
            raise TransientError(f"Unreadable $batch response: {exc}", platform=PLATFORM) from exc
        expected = len(changesets) + len(singles)
        if len(items) != expected:
            raise TransientError(f"$batch answered {len(items)} parts for {expected} requests.", platform=PLATFORM)
        return items

    def api_usage(self) -> dict[str, Any]:
        return {"calls": self.client.calls, **self.client.usage}


def _contact_of(operation: Operation) -> str:
    return operation.path.rsplit("(", 1)[1].rstrip(")")


def _part_error(part: PartResponse, contact_id: str) -> AdapterError:
    return error_for_status(part.status, f"contact {contact_id}: HTTP {part.status} {part.error_text()}",
                            platform=PLATFORM)
