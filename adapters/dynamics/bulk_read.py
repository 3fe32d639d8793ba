"""Read many contacts' histories from Dataverse with a fixed number of queries per chunk of ids.

One contact costs 7 queries (``read.ContactReader``); a chunk of up to
``MAX_IDS_PER_QUERY`` contacts costs 8 (plus extra pages only when a query returns more than
5000 rows), then the rows are distributed per contact with the same mapping functions:

1. ``contacts`` whose ``contactid`` is in the chunk (the ones missing are left out; nothing else is
   read when none exist);
2. ``activityparties`` whose ``partyid`` is one of them: which contacts take part in which activity;
3. ``emails`` / ``phonecalls`` / ``appointments`` with a party among them or regarding one of them;
4. ``annotations`` by ``objectid``, ``incidents`` by ``customerid``, ``opportunities`` by
   ``parentcontactid`` or ``customerid``.

Query shapes (checked in the Microsoft Learn docs): ``Microsoft.Dynamics.CRM.In(PropertyName=
'<column>',PropertyValues=['..',..])`` is a documented Dataverse query function (webapi/reference/in);
it takes the column's logical name, so lookups are named ``regardingobjectid``, not
``_regardingobjectid_value`` (a field report shows Dataverse answers 400 for the ``_..._value``
form). Whether query functions work inside a lambda is not documented, so party membership uses
``or``-ed ``eq`` comparisons there, the form the one-contact reader already relies on. URLs may be at
most 32,768 characters (webapi/compose-http-requests-handle-errors): ``MAX_IDS_PER_QUERY`` keeps the
longest query (activities, 100 ids) at about 11,000 characters (tests/test_dynamics_batch_read.py checks it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cem_engine.model import ContactFacts, ContactInput, Deal, Interaction

from ..base import chunked
from .client import WebApiClient
from .read import (
    ACTIVITY_TABLES,
    CASE_COLUMNS,
    CONTACT_COLUMNS,
    DEAL_COLUMNS,
    DEAL_ORDER,
    NOTE_COLUMNS,
    activity_columns,
    activity_interaction,
    by_time,
    case_interaction,
    contact_facts,
    deal_from_row,
    note_interaction,
)

MAX_IDS_PER_QUERY = 100
PAGE_SIZE = 5000  # the largest odata.maxpagesize Dataverse honours
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
Rows = list[dict[str, Any]]


def in_filter(column: str, ids: Iterable[str]) -> str:
    """``column`` (a logical name) equal to one of ``ids``: the Dataverse ``In`` query function."""
    values = ",".join(f"'{value}'" for value in ids)
    return f"Microsoft.Dynamics.CRM.In(PropertyName='{column}',PropertyValues=[{values}])"


def party_filter(table: str, ids: Iterable[str]) -> str:
    """Activities of ``table`` where one of ``ids`` is a party (sender, recipient, attendee...)."""
    return f"{table}_activity_parties/any(p:" + " or ".join(f"p/_partyid_value eq {i}" for i in ids) + ")"


def _wanted(contact_ids: Sequence[str]) -> dict[str, str]:
    """Lower-case GUID -> the id as the caller wrote it; ids that are not GUIDs cannot exist."""
    wanted: dict[str, str] = {}
    for contact_id in contact_ids:
        key = str(contact_id).strip().lower()
        if _GUID.match(key):
            wanted.setdefault(key, str(contact_id))
    return wanted


def _lower(value: Any) -> str:
    return str(value or "").lower()


class BulkContactReader:
    def __init__(self, client: WebApiClient, *, page_size: int = PAGE_SIZE, parallel_queries: int = 4) -> None:
        self.client = client
        self.page_size = page_size
        self.parallel_queries = max(1, parallel_queries)

    def read(self, contact_ids: Sequence[str]) -> dict[str, ContactInput]:
        """The contacts that exist, keyed by the id as given; ids that are not GUIDs cannot exist."""
        wanted = _wanted(contact_ids)
        found: dict[str, ContactInput] = {}
        for chunk in chunked(list(wanted), MAX_IDS_PER_QUERY):
            found.update(self._chunk({k: wanted[k] for k in chunk}))
        return found

    def records(self, contact_ids: Sequence[str]) -> dict[str, ContactFacts]:
        """Only the contact rows (one query per MAX_IDS_PER_QUERY), keyed by the id as given."""
        wanted = _wanted(contact_ids)
        found: dict[str, ContactFacts] = {}
        for chunk in chunked(list(wanted), MAX_IDS_PER_QUERY):
            for key, row in self._contact_rows({k: wanted[k] for k in chunk}).items():
                found[wanted[key]] = contact_facts(row, wanted[key])
        return found

    def _contact_rows(self, wanted: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        return {_lower(r.get("contactid")): r for r in self._rows("contacts", CONTACT_COLUMNS,
                                                                  in_filter("contactid", wanted),
                                                                  formatted_values=True)}

    def _rows(self, entity_set: str, select: str, filter_: str, orderby: str | None = None, *,
              formatted_values: bool = False) -> Rows:
        params = {"$select": select, "$filter": filter_, **({"$orderby": orderby} if orderby else {})}
        return list(self.client.rows(entity_set, params, page_size=self.page_size, formatted_values=formatted_values,
                                     describe=f"read {entity_set} of a batch of contacts"))

    def _chunk(self, wanted: Mapping[str, str]) -> dict[str, ContactInput]:
        contacts = self._contact_rows(wanted)
        ids = [key for key in wanted if key in contacts]
        if not ids:
            return {}
        queries: dict[str, tuple[str, str, str, str | None]] = {
            "parties": ("activityparties", "activitypartyid,_activityid_value,_partyid_value",
                        in_filter("partyid", ids), None),
            **{entity_set: (entity_set, activity_columns(has_direction) + ",_regardingobjectid_value",
                            f"{party_filter(table, ids)} or {in_filter('regardingobjectid', ids)}", None)
               for entity_set, table, _, has_direction in ACTIVITY_TABLES},
            "annotations": ("annotations", NOTE_COLUMNS + ",_objectid_value", in_filter("objectid", ids), None),
            "incidents": ("incidents", CASE_COLUMNS + ",_customerid_value", in_filter("customerid", ids), None),
            "opportunities": ("opportunities", DEAL_COLUMNS + ",_parentcontactid_value,_customerid_value",
                              f"{in_filter('parentcontactid', ids)} or {in_filter('customerid', ids)}", DEAL_ORDER),
        }
        # The queries are independent: run a few at once (the client caps concurrency per instance).
        with ThreadPoolExecutor(max_workers=self.parallel_queries) as pool:
            futures = {name: pool.submit(self._rows, *query) for name, query in queries.items()}
            rows = {name: future.result() for name, future in futures.items()}
        interactions = self._interactions(set(ids), wanted, rows)
        deals = self._deals(set(ids), wanted, rows["opportunities"])
        return {wanted[key]: ContactInput(contact=contact_facts(contacts[key], wanted[key]),
                                          deals=tuple(deals.get(key, ())),
                                          interactions=tuple(by_time(interactions.get(key, []))))
                for key in ids}

    @staticmethod
    def _interactions(ids: set[str], wanted: Mapping[str, str],
                      rows: Mapping[str, Rows]) -> dict[str, list[Interaction]]:
        parties: dict[str, set[str]] = defaultdict(set)  # activity id -> the batch's contacts taking part
        for party in rows["parties"]:
            if _lower(party.get("_partyid_value")) in ids:
                parties[_lower(party.get("_activityid_value"))].add(_lower(party.get("_partyid_value")))
        found: dict[str, list[Interaction]] = defaultdict(list)
        for entity_set, _, kind, has_direction in ACTIVITY_TABLES:
            for row in rows[entity_set]:
                owners = set(parties.get(_lower(row.get("activityid")), ()))
                owners |= {_lower(row.get("_regardingobjectid_value"))} & ids
                for key in owners:
                    found[key].append(activity_interaction(row, wanted[key], kind, has_direction))
        for row in rows["annotations"]:
            key = _lower(row.get("_objectid_value"))
            if key in ids:
                found[key].append(note_interaction(row, wanted[key]))
        for row in rows["incidents"]:
            key = _lower(row.get("_customerid_value"))
            if key in ids:
                found[key].append(case_interaction(row, wanted[key]))
        return found

    @staticmethod
    def _deals(ids: set[str], wanted: Mapping[str, str], rows: Rows) -> dict[str, list[Deal]]:
        found: dict[str, list[Deal]] = defaultdict(list)
        for row in rows:  # in DEAL_ORDER, as the one-contact reader reads them
            for key in sorted({_lower(row.get("_parentcontactid_value")), _lower(row.get("_customerid_value"))} & ids):
                found[key].append(deal_from_row(row, wanted[key]))
        return found
