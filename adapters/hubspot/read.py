"""Reading HubSpot: contacts with their engagements and deals in batch calls, lists, searches, CEM values.

Reading 50 contacts costs about 20 calls instead of about 650 (one batch read per object type,
v4 batch association reads), which is what keeps a backfill inside HubSpot's 100-190 requests per 10 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId as ObjectsBatchRead
from hubspot.crm.objects import SimplePublicObjectId as ObjectsId

from cem_engine.model import DEAL_STAGES, ContactFacts, ContactInput, Interaction

from ..base import ContactPage, chunked
from ..errors import PermissionDenied
from ..fields import FieldSpec, to_epoch_ms
from . import mapping
from .client import HubSpotClient

READ_BATCH = 100  # v3 batch read inputs per call
ASSOCIATION_BATCH = 1000  # v4 association batch read inputs per call (since 2025-02-10)
SEARCH_PAGE_MAX = 200
OWNERS_PAGE_MAX = 500  # the owners API's page limit
SEARCH_RESULT_CAP = 10_000  # the search API never pages past 10,000 results per query
MAX_PAGES = 200  # bound on any paging loop
PARALLEL_TYPES = 4  # object types read at once in a refresh round (like the Dataverse reader's queries)
# Calls of one refresh round of up to 100 contacts: 1 contacts batch read + 8 v4 association reads (one
# per object type: the v4 batch read takes one from/to pair, no documented call reads several) + ~10
# object batch reads (emails run to several hundred ids) + 1 batch update. Measured in bench.calls.
ROUND_CALLS = 20


class ContactReader:
    def __init__(self, client: HubSpotClient, settings: Mapping[str, Any], fields: Sequence[FieldSpec]) -> None:
        self.client = client
        self.settings = settings
        self.fields = fields
        self._stage_map: dict[str, str] | None = None
        self._owners: dict[str, str] | None = None  # owner id -> name, read once per adapter instance

    def fetch_contacts(self, contact_ids: Sequence[str]) -> dict[str, ContactInput]:
        """Many contacts in a handful of calls: one batch read per object type, not per contact.

        Reading 50 contacts costs about 20 calls instead of about 650, which is what keeps a
        backfill inside HubSpot's 100-190 requests per 10 seconds.
        """
        contacts = self.fetch_contact_records(contact_ids)
        ids = list(contacts)
        interactions: dict[str, list[Interaction]] = {cid: [] for cid in ids}
        # The object types are independent (an association read, then the objects it names): a few at once,
        # so a round's ~20 calls take the time of ~6 and a worker fills HubSpot's 10-second window sooner
        # after a quiet spell (bench.budget). The shared call budget gates each call as before.
        kinds = [(e.object_type, e.properties) for e in mapping.ENGAGEMENT_TYPES] + [("deals", mapping.DEAL_PROPERTIES)]
        with ThreadPoolExecutor(max_workers=PARALLEL_TYPES) as pool:
            linked = list(pool.map(lambda kind: self._linked(ids, *kind), kinds))
        for engagement, (links, records) in zip(mapping.ENGAGEMENT_TYPES, linked[:-1], strict=True):
            for cid in ids:
                for object_id in links.get(cid, []):
                    interaction = engagement.convert(records[object_id], cid) if object_id in records else None
                    if interaction is not None:
                        interactions[cid].append(interaction)
        deal_links, deal_records = linked[-1]
        stage_map = self._deal_stage_map(list(deal_records.values()))
        result: dict[str, ContactInput] = {}
        for cid, facts in contacts.items():
            deals = tuple(mapping.to_deal(deal_records[d], cid, stage_map)
                          for d in deal_links.get(cid, []) if d in deal_records)
            ordered = sorted(interactions[cid], key=lambda i: (i.occurred_at, i.id))
            result[cid] = ContactInput(contact=facts, deals=deals, interactions=tuple(ordered))
        return result

    def _linked(self, ids: Sequence[str], object_type: str,
                properties: Sequence[str]) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
        """The contacts' associated ids of one object type, and those objects."""
        links = self.associated_ids("contacts", object_type, ids) if ids else {}
        records = {str(r["id"]): r for r in self.read_objects(
            object_type, [oid for cid in ids for oid in links.get(cid, [])], properties)}
        return links, records

    def fetch_contact_records(self, contact_ids: Sequence[str]) -> dict[str, ContactFacts]:
        """The contacts' own properties: one batch read per 100 (plus the owners list when a new owner shows)."""
        renewal = self.settings.get("renewal_date_property")
        properties = list(mapping.CONTACT_PROPERTIES) + ([renewal] if renewal else [])
        records = self.read_objects("contacts", contact_ids, properties)
        owners = self._owner_names({str((r.get("properties") or {}).get("hubspot_owner_id") or "") for r in records})
        return {str(r["id"]): mapping.contact_facts(r, renewal, owners) for r in records}

    def associated_ids(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """v4 batch association read (1000 inputs a call), following per-input paging."""
        found: dict[str, list[str]] = {str(i): [] for i in ids}
        pending: list[dict[str, Any]] = [{"id": str(i)} for i in ids]
        for _ in range(MAX_PAGES):
            if not pending:
                break
            chunk, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
            _, data = self.client.request(f"reading {from_type}->{to_type} associations",
                                          "crm.associations.v4.batch_api", "get_page", from_type, to_type,
                                          {"inputs": chunk})
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
        for chunk in chunked(unique, READ_BATCH):
            body = ObjectsBatchRead(properties=list(properties), properties_with_history=[],
                                    inputs=[ObjectsId(id=i) for i in chunk])
            _, data = self.client.request(f"reading {object_type}", "crm.objects.batch_api", "read", object_type, body)
            records.extend(r for r in data.get("results") or [] if isinstance(r, dict) and r.get("id") is not None)
        return records

    def _owner_names(self, wanted: set[str]) -> dict[str, str]:
        """Owner names from the owners API (paged, 500 a page), read once per adapter instance and again
        only when a contact names an owner not seen yet (a rep added since). Without the owners scope the
        contacts are still read, just without owner names."""
        wanted.discard("")
        if not wanted or (self._owners is not None and wanted <= self._owners.keys()):
            return self._owners or {}
        owners: dict[str, str] = {}
        after: str | None = None
        try:
            for _ in range(MAX_PAGES):
                kwargs: dict[str, Any] = {"limit": OWNERS_PAGE_MAX}
                if after:
                    kwargs["after"] = after
                _, data = self.client.request("reading owners", "crm.owners.owners_api", "get_page", **kwargs)
                for owner in data.get("results") or []:
                    name = mapping.owner_name(owner)
                    if owner.get("id") is not None and name:
                        owners[str(owner["id"])] = name
                after = ((data.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        except PermissionDenied:
            owners = {}  # crm.objects.owners.read not granted: keep reading contacts, unnamed owners
        self._owners = owners
        return owners

    def _deal_stage_map(self, deals: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Custom pipeline stage ids -> default stage names; only fetched when a deal needs it."""
        unknown = {(d.get("properties") or {}).get("dealstage") for d in deals} - set(DEAL_STAGES) - {None, ""}
        if not unknown:
            return {}
        if self._stage_map is None:
            _, data = self.client.request("reading deal pipelines", "crm.pipelines.pipelines_api", "get_all", "deals")
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
            _, data = self.client.request(f"reading contacts of {path} {object_id}", "crm.associations.v4.basic_api",
                                    "get_page", path, str(object_id), "contacts", **kwargs)
            contacts.extend(str(r.get("toObjectId")) for r in data.get("results") or [])
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return list(dict.fromkeys(contacts))

    def contacts_with_changed_interactions(self, since: datetime) -> list[str]:
        """Contacts of the engagements, tickets and deals modified since ``since`` (``hs_lastmodifieddate``
        through the search API, then one v4 association batch read per object type). Logging an email
        does not necessarily touch the contact record, so a reconcile needs both lists."""
        contacts: set[str] = set()
        for object_type in [*(e.object_type for e in mapping.ENGAGEMENT_TYPES), "deals"]:
            changed = self._search_changed(object_type, to_epoch_ms(since))
            for linked in (self.associated_ids(object_type, "contacts", changed) if changed else {}).values():
                contacts.update(linked)
        return sorted(contacts)

    def _search_changed(self, object_type: str, since_ms: int) -> list[str]:
        ids: list[str] = []
        after: str | None = None  # HubSpot's opaque string cursor; the first page sends none
        seen = 0  # results read in this window: the search never pages past 10,000
        for _ in range(MAX_PAGES):
            body: dict[str, Any] = {
                "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                                               "value": str(since_ms)}]}],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                "properties": ["hs_lastmodifieddate"], "limit": SEARCH_PAGE_MAX}
            if after:
                body["after"] = after
            _, data = self.client.request(f"searching modified {object_type}", "crm.objects.search_api", "do_search",
                                          object_type, body)
            results = data.get("results") or []
            ids.extend(str(r["id"]) for r in results)
            seen += len(results)
            next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not next_after or not results:
                break
            if seen + SEARCH_PAGE_MAX > SEARCH_RESULT_CAP:  # the 10,000-result window: restart at the last time seen
                last = mapping.parse_moment((results[-1].get("properties") or {}).get("hs_lastmodifieddate"))
                since_ms, after, seen = (to_epoch_ms(last) if last else since_ms), None, 0
            else:
                after = str(next_after)
        return list(dict.fromkeys(ids))

    def list_contacts(self, cursor: str | None = None, *, modified_since: datetime | None = None,
                      page_size: int = 100) -> ContactPage:
        if modified_since is None:
            kwargs: dict[str, Any] = {"limit": max(1, min(page_size, 100))}
            if cursor:
                kwargs["after"] = cursor
            _, data = self.client.request("listing contacts", "crm.contacts.basic_api", "get_page", **kwargs)
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            return ContactPage([str(r["id"]) for r in data.get("results") or []], str(after) if after else None)
        return self._search_modified(cursor, to_epoch_ms(modified_since), max(1, min(page_size, SEARCH_PAGE_MAX)))

    def _search_modified(self, cursor: str | None, since_ms: int, limit: int) -> ContactPage:
        """Contacts modified since ``since_ms``, oldest first. ``after`` is HubSpot's opaque string cursor;
        the search never pages past 10,000 results, so after ~10,000 in one window the next window starts
        at the last timestamp seen. Our cursor: "<since_ms>:<results read in this window>:<after>"."""
        seen, after = 0, None
        if cursor:
            parts = cursor.split(":", 2)
            since_ms = int(parts[0])
            if len(parts) == 3:
                seen, after = int(parts[1] or 0), parts[2] or None
            elif len(parts) == 2 and parts[1] not in ("", "0"):  # a cursor saved before: "<since>:<after>"
                after = parts[1]
                seen = int(after) if after.isdigit() else 0
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                           "value": str(since_ms)}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["lastmodifieddate"], "limit": limit,
        }
        if after:
            body["after"] = str(after)  # a string, as HubSpot's OpenAPI spec defines it
        _, data = self.client.request("searching modified contacts", "crm.contacts.search_api", "do_search", body)
        results = data.get("results") or []
        ids = [str(r["id"]) for r in results]
        seen += len(results)
        next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
        next_cursor = None
        if next_after:
            if seen + limit > SEARCH_RESULT_CAP and results:
                last = mapping.parse_moment((results[-1].get("properties") or {}).get("lastmodifieddate"))
                next_cursor = f"{to_epoch_ms(last) if last else since_ms}:0:"
            else:
                next_cursor = f"{since_ms}:{seen}:{next_after}"
        return ContactPage(ids, next_cursor, data.get("total"))

    def read_fields(self, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        names = {mapping.property_name(spec): spec for spec in self.fields}
        values: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(str(i) for i in contact_ids))
        for chunk in chunked(unique, READ_BATCH):
            body = BatchReadInputSimplePublicObjectId(
                properties=list(names), properties_with_history=[],
                inputs=[SimplePublicObjectId(id=i) for i in chunk])
            _, data = self.client.request("reading CEM fields", "crm.contacts.batch_api", "read", body)
            for record in data.get("results") or []:
                props = record.get("properties") or {}
                values[str(record["id"])] = {spec.key: mapping.parse_value(spec, props.get(name))
                                             for name, spec in names.items()}
        return values
