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

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import requests
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId as ObjectsBatchRead
from hubspot.crm.objects import SimplePublicObjectId as ObjectsId
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyUpdate,
)

from cem_engine.model import DEAL_STAGES, ContactInput, Interaction

from .. import http
from ..base import ContactPage, CRMAdapter, FieldUpdate, ProvisionReport, WriteResult
from ..errors import (
    AdapterError,
    AuthenticationError,
    ConfigurationError,
    InvalidRequest,
    NotFound,
    RateLimited,
    TransientError,
)
from ..fields import FIELDS_BY_KEY, FieldSpec, to_epoch_ms
from . import auth, errors, mapping

READ_BATCH = 100  # v3 batch read inputs per call
ASSOCIATION_BATCH = 1000  # v4 association batch read inputs per call (since 2025-02-10)
SEARCH_PAGE_MAX = 200
SEARCH_RESULT_CAP = 10_000  # the search API never pages past 10,000 results per query
MAX_PAGES = 200  # bound on any paging loop
PRIVATE_APP_TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
RATE_HEADERS = {
    "limit": "X-HubSpot-RateLimit-Max", "remaining": "X-HubSpot-RateLimit-Remaining",
    "interval_ms": "X-HubSpot-RateLimit-Interval-Milliseconds", "daily": "X-HubSpot-RateLimit-Daily",
    "daily_remaining": "X-HubSpot-RateLimit-Daily-Remaining",
}


class HubSpotAdapter(CRMAdapter):
    platform = "hubspot"
    label = "HubSpot"
    write_batch_size = 100
    read_batch_size = READ_BATCH  # one v3 batch read of contacts; association reads take 1,000
    remembered_facts = ("app_id",)

    def __init__(self, connection: Any, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, retry_policy: http.RetryPolicy | None = None,
                 timeout: Any = auth.DEFAULT_TIMEOUT) -> None:
        super().__init__(connection)
        self.base_url = str(connection.settings.get("api_base_url") or auth.DEFAULT_API_BASE_URL).rstrip("/")
        self.credentials: dict[str, Any] = dict(connection.credentials)
        if not self.credentials.get("access_token"):
            raise ConfigurationError("HubSpot connection has no access_token (private app token or OAuth).",
                                     platform=self.platform)
        self.sleep, self.clock, self.timeout = sleep, clock, timeout
        self.retry_policy = retry_policy or http.RetryPolicy()
        self.client = auth.make_client(self.base_url, self.credentials["access_token"])
        self._apis: dict[str, Any] = {}
        self._usage: dict[str, Any] = {"calls": 0}
        self._stage_map: dict[str, str] | None = None

    # -- plumbing ------------------------------------------------------------------------------
    def _api(self, path: str) -> Any:
        """An SDK API object, built once: each discovery access would open a new connection pool."""
        if path not in self._apis:
            target: Any = self.client
            for part in path.split("."):
                target = getattr(target, part)
            self._apis[path] = target
        return self._apis[path]

    def _use_token(self, token: str) -> None:
        self.client.access_token = token
        for api in self._apis.values():
            api.api_client.configuration.access_token = token

    @classmethod
    def oauth_authorize_url(cls, settings: Mapping[str, Any], credentials: Mapping[str, Any], *,
                            redirect_uri: str, state: str) -> str:
        client_id = credentials.get("client_id")
        if not client_id:
            raise ConfigurationError("Set the app's client_id (and client_secret) with `cem-connector connect "
                                     "hubspot --credential client_id=... --credential client_secret=...`.",
                                     platform=cls.platform)
        return auth.authorize_url(
            client_id=client_id, redirect_uri=redirect_uri, state=state,
            scopes=settings.get("scopes") or auth.REQUIRED_SCOPES,
            optional_scopes=settings.get("optional_scopes") or auth.OPTIONAL_SCOPES,
            authorize_base=settings.get("authorize_url") or auth.AUTHORIZE_URL)

    @classmethod
    def oauth_complete(cls, settings: Mapping[str, Any], credentials: Mapping[str, Any], *, code: str,
                       redirect_uri: str) -> dict[str, Any]:
        fresh = auth.exchange_code(
            code, client_id=credentials["client_id"], client_secret=credentials["client_secret"],
            redirect_uri=redirect_uri,
            api_base_url=str(settings.get("api_base_url") or auth.DEFAULT_API_BASE_URL))
        return {**dict(credentials), **fresh}

    def refresh_token(self) -> None:
        """Refresh the OAuth access token and hand the new credentials to the connector."""
        self.credentials = auth.refresh(self.credentials, api_base_url=self.base_url, clock=self.clock,
                                                timeout=self.timeout)
        self._use_token(self.credentials["access_token"])
        if self.connection.on_credentials_changed is not None:
            self.connection.on_credentials_changed(dict(self.credentials))

    def _request(self, action: str, api: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """One API call with token refresh (once on EXPIRED_AUTHENTICATION) and bounded retries."""
        refreshed = False

        def attempt() -> tuple[int, dict[str, Any]]:
            nonlocal refreshed
            if auth.needs_refresh(self.credentials, self.clock()):
                self.refresh_token()
            try:
                return self._send(action, api, method, args, kwargs)
            except AuthenticationError as error:
                if refreshed or not errors.is_expired_token(error) or not self.credentials.get("refresh_token"):
                    raise
                refreshed = True
                self.refresh_token()
                return self._send(action, api, method, args, kwargs)

        return http.call_with_retry(attempt, policy=self.retry_policy, sleep=self.sleep)

    def _send(self, action: str, api: str, method: str, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._pace()
        call = getattr(self._api(api), f"{method}_with_http_info")
        self._usage["calls"] += 1
        response, raw = errors.call_raw(
            lambda: call(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs), action,
            on_error_headers=self._record_usage)
        self._record_usage(response.headers)
        try:
            data = json.loads(raw) if raw else {}
        except ValueError as error:
            raise TransientError(f"HubSpot sent a non-JSON answer while {action}.", status=response.status,
                                 platform=self.platform) from error
        return response.status, data if isinstance(data, dict) else {"results": data}

    def _record_usage(self, headers: Any) -> None:
        for key, name in RATE_HEADERS.items():
            value = http.int_header(headers, name)
            if value is not None:
                self._usage[key] = value
        self._usage["observed_at"] = self.clock()

    def _pace(self) -> None:
        """Respect what the last response said: wait out an empty ten-second window, stop on an empty day."""
        if self._usage.get("daily_remaining") == 0:
            raise RateLimited("HubSpot daily API limit is used up; it resets at midnight in the account's time zone.",
                              retry_after=3600.0, status=429, platform=self.platform)
        if self._usage.get("remaining") == 0:
            interval = (self._usage.get("interval_ms") or 10_000) / 1000.0
            elapsed = self.clock() - float(self._usage.get("observed_at") or 0)
            wait = interval - elapsed
            if wait > self.retry_policy.max_inline_wait:
                raise RateLimited("HubSpot burst limit reached.", retry_after=wait, status=429, platform=self.platform)
            if wait > 0:
                self.sleep(wait)
            self._usage["remaining"] = None

    def api_usage(self) -> dict[str, Any]:
        return dict(self._usage)

    def native_field_name(self, spec: FieldSpec) -> str:
        return mapping.property_name(spec)

    # -- lifecycle -----------------------------------------------------------------------------
    def check_connection(self) -> dict[str, Any]:
        token = self.credentials["access_token"]
        if self.credentials.get("refresh_token"):
            if auth.needs_refresh(self.credentials, self.clock()):
                self.refresh_token()
                token = self.credentials["access_token"]
            _, info = self._request("reading the OAuth token info", "oauth.access_tokens_api", "get", token)
            facts = {"auth": "oauth", "hub_id": info.get("hub_id"), "app_id": info.get("app_id"),
                     "scopes": info.get("scopes") or [], "user": info.get("user"), "hub_domain": info.get("hub_domain")}
        else:
            try:
                info = self._private_app_info(token)
            except NotFound:
                # token info is a convenience; the contacts read below is what proves the token works
                settings = self.connection.settings
                info = {"hubId": settings.get("portal_id"), "appId": settings.get("app_id")}
            facts = {"auth": "private_app", "hub_id": info.get("hubId"), "app_id": info.get("appId"),
                     "scopes": info.get("scopes") or [], "user_id": info.get("userId")}
        # proves the token can read contacts (the scope everything else needs)
        self._request("reading contacts", "crm.contacts.basic_api", "get_page", limit=1)
        facts["account_id"] = str(facts["hub_id"]) if facts.get("hub_id") is not None else None
        return facts

    def _private_app_info(self, token: str) -> dict[str, Any]:
        """Private-app token info through ``client.api_request`` (the SDK has no wrapper for it)."""
        def call() -> dict[str, Any]:
            try:
                response = self.client.api_request({"method": "POST", "path": PRIVATE_APP_TOKEN_INFO_PATH,
                                                    "body": {"tokenKey": token}})
            except requests.RequestException as error:
                raise errors.from_transport_error(error, "reading the private app token info") from error
            self._usage["calls"] += 1
            self._record_usage(response.headers)
            if response.status_code >= 400:
                raise http.error_from_response(response, platform=self.platform,
                                               describe="HubSpot refused reading the private app token info")
            data = response.json()
            return data if isinstance(data, dict) else {}
        return http.call_with_retry(call, policy=self.retry_policy, sleep=self.sleep)

    def provision(self, *, dry_run: bool = False) -> ProvisionReport:
        report = ProvisionReport(dry_run=dry_run)
        _, groups = self._request("listing contact property groups", "crm.properties.groups_api", "get_all", "contacts")
        group_target = f"property group {mapping.GROUP_NAME} on contacts"
        if any(g.get("name") == mapping.GROUP_NAME for g in groups.get("results") or []):
            report.add("unchanged", group_target)
        else:
            if not dry_run:
                self._request("creating the CEM property group", "crm.properties.groups_api", "create", "contacts",
                              PropertyGroupCreate(name=mapping.GROUP_NAME, label=mapping.GROUP_LABEL, display_order=-1))
            report.add("create", group_target, mapping.GROUP_LABEL)

        _, existing = self._request("listing contact properties", "crm.properties.core_api", "get_all", "contacts")
        by_name = {p.get("name"): p for p in existing.get("results") or []}
        to_create: list[dict[str, Any]] = []
        for order, spec in enumerate(self.fields):
            wanted = mapping.property_definition(spec, order)
            target = f"property {wanted['name']} on contacts"
            current = by_name.get(wanted["name"])
            if current is None:
                to_create.append(wanted)
                report.add("create", target, f"{wanted['type']}/{wanted['fieldType']}")
                continue
            changes = mapping.definition_changes(wanted, current)
            if not changes:
                report.add("unchanged", target)
                continue
            if not dry_run:
                self._request(f"updating {wanted['name']}", "crm.properties.core_api", "update", "contacts",
                              wanted["name"], _property_update(changes))
            report.add("update", target, ", ".join(sorted(changes)))
        if to_create and not dry_run:
            self._request("creating the CEM properties", "crm.properties.batch_api", "create", "contacts",
                          BatchInputPropertyCreate(inputs=[_property_create(d) for d in to_create]))
        return report

    # -- reading -------------------------------------------------------------------------------
    def fetch_contact(self, contact_id: str) -> ContactInput:
        found = self.fetch_contacts([contact_id])
        if str(contact_id) not in found:
            raise NotFound(f"HubSpot contact {contact_id} does not exist (any more).", platform=self.platform)
        return found[str(contact_id)]

    def fetch_contacts(self, contact_ids: Sequence[str]) -> dict[str, ContactInput]:
        """Many contacts in a handful of calls: one batch read per object type, not per contact.

        Reading 50 contacts costs about 20 calls instead of about 650, which is what keeps a
        backfill inside HubSpot's 100-190 requests per 10 seconds.
        """
        renewal = self.connection.settings.get("renewal_date_property")
        properties = list(mapping.CONTACT_PROPERTIES) + ([renewal] if renewal else [])
        contacts = {str(r["id"]): mapping.contact_facts(r, renewal)
                    for r in self.read_objects("contacts", contact_ids, properties)}
        ids = list(contacts)
        interactions: dict[str, list[Interaction]] = {cid: [] for cid in ids}
        for engagement in mapping.ENGAGEMENT_TYPES:
            links = self.associated_ids("contacts", engagement.object_type, ids) if ids else {}
            records = {str(r["id"]): r for r in self.read_objects(
                engagement.object_type, [oid for cid in ids for oid in links.get(cid, [])], engagement.properties)}
            for cid in ids:
                for object_id in links.get(cid, []):
                    interaction = engagement.convert(records[object_id], cid) if object_id in records else None
                    if interaction is not None:
                        interactions[cid].append(interaction)
        deal_links = self.associated_ids("contacts", "deals", ids) if ids else {}
        deal_records = {str(r["id"]): r for r in self.read_objects(
            "deals", [did for cid in ids for did in deal_links.get(cid, [])], mapping.DEAL_PROPERTIES)}
        stage_map = self._deal_stage_map(list(deal_records.values()))
        result: dict[str, ContactInput] = {}
        for cid, facts in contacts.items():
            deals = tuple(mapping.to_deal(deal_records[d], cid, stage_map)
                          for d in deal_links.get(cid, []) if d in deal_records)
            ordered = sorted(interactions[cid], key=lambda i: (i.occurred_at, i.id))
            result[cid] = ContactInput(contact=facts, deals=deals, interactions=tuple(ordered))
        return result

    def associated_ids(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """v4 batch association read (1000 inputs a call), following per-input paging."""
        found: dict[str, list[str]] = {str(i): [] for i in ids}
        pending: list[dict[str, Any]] = [{"id": str(i)} for i in ids]
        for _ in range(MAX_PAGES):
            if not pending:
                break
            chunk, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
            _, data = self._request(f"reading {from_type}->{to_type} associations", "crm.associations.v4.batch_api",
                                    "get_page", from_type, to_type, {"inputs": chunk})
            for result in data.get("results") or []:
                source = str((result.get("from") or {}).get("id"))
                found.setdefault(source, []).extend(str(t.get("toObjectId")) for t in result.get("to") or [])
                after = ((result.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending.append({"id": source, "after": after})
        return {key: list(dict.fromkeys(values)) for key, values in found.items()}

    def read_objects(self, object_type: str, ids: Iterable[str], properties: Iterable[str]) -> list[dict[str, Any]]:
        """v3 batch read, 100 ids a call; ids that no longer exist are skipped (207 errors)."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        records: list[dict[str, Any]] = []
        for start in range(0, len(unique), READ_BATCH):
            chunk = unique[start:start + READ_BATCH]
            body = ObjectsBatchRead(properties=list(properties), properties_with_history=[],
                                    inputs=[ObjectsId(id=i) for i in chunk])
            _, data = self._request(f"reading {object_type}", "crm.objects.batch_api", "read", object_type, body)
            records.extend(r for r in data.get("results") or [] if isinstance(r, dict) and r.get("id") is not None)
        return records

    def _deal_stage_map(self, deals: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Custom pipeline stage ids -> default stage names; only fetched when a deal needs it."""
        unknown = {(d.get("properties") or {}).get("dealstage") for d in deals} - set(DEAL_STAGES) - {None, ""}
        if not unknown:
            return {}
        if self._stage_map is None:
            _, data = self._request("reading deal pipelines", "crm.pipelines.pipelines_api", "get_all", "deals")
            self._stage_map = {str(stage.get("id")): mapping.stage_from_pipeline(stage)
                               for pipeline in data.get("results") or [] for stage in pipeline.get("stages") or []}
        return self._stage_map

    def contacts_for(self, object_type: str, object_id: str) -> list[str]:
        path = mapping.OBJECT_PATHS.get(object_type, object_type)
        if path == "contacts":
            return [str(object_id)]
        contacts: list[str] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {"limit": 500}
            if after:
                kwargs["after"] = after
            _, data = self._request(f"reading contacts of {path} {object_id}", "crm.associations.v4.basic_api",
                                    "get_page", path, str(object_id), "contacts", **kwargs)
            contacts.extend(str(r.get("toObjectId")) for r in data.get("results") or [])
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return list(dict.fromkeys(contacts))

    def list_contacts(self, cursor: str | None = None, *, modified_since: datetime | None = None,
                      page_size: int = 100) -> ContactPage:
        if modified_since is None:
            kwargs: dict[str, Any] = {"limit": max(1, min(page_size, 100))}
            if cursor:
                kwargs["after"] = cursor
            _, data = self._request("listing contacts", "crm.contacts.basic_api", "get_page", **kwargs)
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            return ContactPage([str(r["id"]) for r in data.get("results") or []], str(after) if after else None)
        return self._search_modified(cursor, to_epoch_ms(modified_since), max(1, min(page_size, SEARCH_PAGE_MAX)))

    def _search_modified(self, cursor: str | None, since_ms: int, limit: int) -> ContactPage:
        # cursor "since_ms:after": when the 10,000-result window is near, restart from the last timestamp seen
        if cursor:
            since_text, _, after_text = cursor.partition(":")
            since_ms, after = int(since_text), int(after_text or 0)
        else:
            after = 0
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                           "value": str(since_ms)}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["lastmodifieddate"], "limit": limit, "after": after,
        }
        _, data = self._request("searching modified contacts", "crm.contacts.search_api", "do_search", body)
        results = data.get("results") or []
        ids = [str(r["id"]) for r in results]
        next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
        next_cursor = None
        if next_after:
            if int(next_after) + limit >= SEARCH_RESULT_CAP and results:
                last = mapping.parse_moment((results[-1].get("properties") or {}).get("lastmodifieddate"))
                next_cursor = f"{to_epoch_ms(last) if last else since_ms}:0"
            else:
                next_cursor = f"{since_ms}:{next_after}"
        return ContactPage(ids, next_cursor, data.get("total"))

    def read_fields(self, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        names = {mapping.property_name(spec): spec for spec in self.fields}
        values: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(str(i) for i in contact_ids))
        for start in range(0, len(unique), READ_BATCH):
            body = BatchReadInputSimplePublicObjectId(
                properties=list(names), properties_with_history=[],
                inputs=[SimplePublicObjectId(id=i) for i in unique[start:start + READ_BATCH]])
            _, data = self._request("reading CEM fields", "crm.contacts.batch_api", "read", body)
            for record in data.get("results") or []:
                props = record.get("properties") or {}
                values[str(record["id"])] = {spec.key: mapping.parse_value(spec, props.get(name))
                                             for name, spec in names.items()}
        return values

    # -- writing -------------------------------------------------------------------------------
    def write_fields(self, updates: Sequence[FieldUpdate]) -> WriteResult:
        result = WriteResult()
        merged: dict[str, dict[str, str]] = {}
        for update in updates:  # HubSpot rejects a batch naming one id twice: merge, later values win
            try:
                properties = self._format(update.values)
            except (ValueError, TypeError) as error:
                result.failed[str(update.contact_id)] = InvalidRequest(str(error), platform=self.platform)
                continue
            merged.setdefault(str(update.contact_id), {}).update(properties)
        pending = list(merged.items())
        for start in range(0, len(pending), self.write_batch_size):
            chunk = pending[start:start + self.write_batch_size]
            try:
                self._write_chunk(chunk, result)
            except AdapterError as error:
                if not result.succeeded:
                    raise  # nothing written yet: let the job layer retry or tell the admin
                for contact_id, _ in pending[start:]:
                    if contact_id not in result.succeeded:
                        result.failed.setdefault(contact_id, error)
                break
        return result

    def _format(self, values: Mapping[str, Any]) -> dict[str, str]:
        properties: dict[str, str] = {}
        for key, value in values.items():
            spec = FIELDS_BY_KEY.get(key)
            if spec is None:
                raise ValueError(f"Unknown CEM field '{key}'.")
            properties[mapping.property_name(spec)] = mapping.format_value(spec, value)
        return properties

    def _write_chunk(self, chunk: list[tuple[str, dict[str, str]]], result: WriteResult, depth: int = 0) -> None:
        """One batch/update; a 400 naming no record is split in halves to isolate the bad ones (depth <= 8)."""
        body = BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=cid, properties=props) for cid, props in chunk])
        try:
            result.calls += 1
            status, data = self._request(f"updating {len(chunk)} contacts", "crm.contacts.batch_api", "update", body)
        except (InvalidRequest, NotFound) as error:
            ids = {cid for cid, _ in chunk}
            named = _ids_in(getattr(error, "body", {}) or {}) & ids
            if named:
                for cid in named:
                    result.failed[cid] = error
                rest = [(cid, props) for cid, props in chunk if cid not in named]
                if rest and depth < 8:
                    self._write_chunk(rest, result, depth + 1)
                return
            if len(chunk) == 1 or depth >= 8:
                for cid, _ in chunk:
                    result.failed[cid] = error
                return
            middle = len(chunk) // 2
            self._write_chunk(chunk[:middle], result, depth + 1)
            self._write_chunk(chunk[middle:], result, depth + 1)
            return
        failed = _batch_errors(data.get("errors") or []) if status == 207 else {}
        for cid, error in failed.items():
            result.failed[cid] = error
        written = {str(r.get("id")) for r in data.get("results") or []}
        for cid, _ in chunk:
            if cid in failed:
                continue
            if cid in written or status == 200:
                result.succeeded.append(cid)
            else:
                result.failed[cid] = TransientError("HubSpot did not confirm this record in a multi-status answer.",
                                                    status=207, platform=self.platform)


def _property_create(definition: Mapping[str, Any]) -> PropertyCreate:
    return PropertyCreate(
        name=definition["name"], label=definition["label"], type=definition["type"],
        field_type=definition["fieldType"], group_name=definition["groupName"], description=definition["description"],
        display_order=definition["displayOrder"], has_unique_value=False, hidden=False, form_field=False,
        options=[_option(o) for o in definition.get("options") or []] or None,
    )


def _property_update(changes: Mapping[str, Any]) -> PropertyUpdate:
    return PropertyUpdate(
        label=changes.get("label"), type=changes.get("type"), field_type=changes.get("fieldType"),
        group_name=changes.get("groupName"), description=changes.get("description"),
        options=[_option(o) for o in changes["options"]] if "options" in changes else None,
    )


def _option(option: Mapping[str, Any]) -> OptionInput:
    return OptionInput(label=option["label"], value=option["value"], display_order=option.get("displayOrder", 0),
                       hidden=bool(option.get("hidden", False)), description=option.get("description"))


def _ids_in(body: Mapping[str, Any]) -> set[str]:
    """Record ids a HubSpot error names in ``context.ids`` (top level or per error)."""
    found: set[str] = set()
    contexts = [body.get("context")] + [e.get("context") for e in body.get("errors") or [] if isinstance(e, dict)]
    for context in contexts:
        if isinstance(context, dict):
            found.update(str(i) for i in context.get("ids") or [])
    return found


def _batch_errors(errors: Sequence[Mapping[str, Any]]) -> dict[str, AdapterError]:
    """Per-record errors of a 207 answer, typed so the job layer knows which to retry."""
    failed: dict[str, AdapterError] = {}
    for error in errors:
        category = str(error.get("category") or "")
        message = f"HubSpot: {category or 'error'}: {str(error.get('message') or '')[:300]}"
        typed: AdapterError
        if category == "OBJECT_NOT_FOUND":
            typed = NotFound(message, status=404, platform="hubspot")
        elif category in ("RATE_LIMITS", "LOCKED"):
            typed = RateLimited(message, retry_after=2.0, status=429, platform="hubspot")
        elif category in ("INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"):
            typed = TransientError(message, platform="hubspot")
        else:
            typed = InvalidRequest(message, status=400, platform="hubspot")
        for cid in _ids_in({"context": error.get("context")}):
            failed[cid] = typed
    return failed

