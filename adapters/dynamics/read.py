"""Read one contact's history from Dataverse, and map Dataverse rows onto engine types.

The mapping functions are shared with ``bulk_read`` (many contacts per query), so both
readers give the same ``ContactInput`` for a contact. Queries for one contact (Web API v9.2, OData,
all paged through ``@odata.nextLink``):
- emails, phone calls, appointments linked through activity parties
  (``<table>_activity_parties/any(p:p/_partyid_value eq <id>)``) or regarding the contact;
- notes: ``annotations`` with ``_objectid_value eq <id>``;
- cases: ``incidents`` with ``_customerid_value eq <id>``;
- opportunities: ``_parentcontactid_value`` or ``_customerid_value`` equal to the contact.
Email/phone call ``directioncode`` is a Boolean: true = outgoing (rep), false = incoming (customer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from cem_engine.model import ContactFacts, Deal, Interaction

from ..fields import as_utc
from .client import FORMATTED_VALUE_ANNOTATION, WebApiClient

_ACTIVITY_COLUMNS = "activityid,subject,description,createdon,actualend,actualstart,scheduledstart"
# Opportunity salesstage (0 Qualify, 1 Develop, 2 Propose, 3 Close) onto the exchange deal stages.
_DEAL_STAGE = {0: "qualifiedtobuy", 1: "presentationscheduled", 2: "decisionmakerboughtin", 3: "contractsent"}
_WON, _LOST = 1, 2  # opportunity statecode


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _when(row: Mapping[str, Any], *columns: str) -> datetime:
    for column in columns:
        moment = parse_time(row.get(column))
        if moment:
            return moment
    raise ValueError("row without any timestamp")


def deal_type(name: str) -> str:
    """Dataverse opportunities have no type column; infer it from the name (documented in README.md, Dynamics 365)."""
    lowered = name.lower()
    if "renewal" in lowered or "renew" in lowered:
        return "renewal"
    if any(word in lowered for word in ("upsell", "upgrade", "add-on", "addon", "expansion", "cross-sell")):
        return "upsell"
    return "new_business"


# (entity set, table logical name, engine kind, has directioncode) of the activities read per contact
ACTIVITY_TABLES: tuple[tuple[str, str, str, bool], ...] = (("emails", "email", "email", True),
                                                          ("phonecalls", "phonecall", "call", True),
                                                          ("appointments", "appointment", "meeting", False))
# the company (parent account) and owner lookups come back with their display names as formatted-value
# annotations when the request asks for them (FORMATTED_VALUES), so no extra query reads the names
CONTACT_COLUMNS = "contactid,fullname,emailaddress1,createdon,_parentcustomerid_value,_ownerid_value"
FORMATTED = "@" + FORMATTED_VALUE_ANNOTATION
NOTE_COLUMNS = "annotationid,subject,notetext,createdon"
CASE_COLUMNS = "incidentid,title,description,ticketnumber,createdon,statecode"
# incident statecode (Dataverse): 0 Active, 1 Resolved, 2 Cancelled -> the normalised ticket status
CASE_STATES = {0: "open", 1: "solved", 2: "closed"}
DEAL_COLUMNS = "opportunityid,name,statecode,salesstage,estimatedvalue,actualvalue,createdon,estimatedclosedate," \
               "actualclosedate"
# Without $orderby Dataverse promises no order; a fixed one keeps a contact's deals in the same order
# whichever query (one contact or a batch) read them.
DEAL_ORDER = "opportunityid asc"


def activity_columns(has_direction: bool) -> str:
    return _ACTIVITY_COLUMNS + (",directioncode" if has_direction else "")


# -- rows onto engine types (shared by the one-contact and the batch readers) -----------------------
def contact_facts(row: Mapping[str, Any], contact_id: str) -> ContactFacts:
    return ContactFacts(contact_id=contact_id, created_at=parse_time(row.get("createdon")),
                        email=row.get("emailaddress1"), name=row.get("fullname"),
                        company=row.get("_parentcustomerid_value" + FORMATTED) or None,
                        owner=row.get("_ownerid_value" + FORMATTED) or None)


def _interaction(row: Mapping[str, Any], id_column: str, contact_id: str, kind: Any, direction: Any,
                 subject: Any, body: Any, time_columns: tuple[str, ...],
                 metadata: dict[str, Any] | None = None, author: Any = None) -> Interaction:
    return Interaction(id=str(row[id_column]), contact_id=contact_id, kind=kind, direction=direction,
                       author=author, occurred_at=_when(row, *time_columns), subject=str(subject or ""),
                       body=str(body or ""), metadata={k: v for k, v in (metadata or {}).items() if v is not None})


def activity_interaction(row: Mapping[str, Any], contact_id: str, kind: str, has_direction: bool) -> Interaction:
    direction = "internal" if not has_direction else "outbound" if row.get("directioncode") else "inbound"
    if kind == "meeting":
        direction = "outbound"  # appointments are organised by the company
    # Only an incoming activity carries the customer's words; tasks and outgoing mail are the team's.
    author = "customer" if direction == "inbound" else "rep"
    return _interaction(row, "activityid", contact_id, kind, direction, row.get("subject"), row.get("description"),
                        ("actualend", "scheduledstart", "actualstart", "createdon"), author=author)


def note_interaction(row: Mapping[str, Any], contact_id: str) -> Interaction:
    # Annotations are written by CRM users: a rep's note (reported speech at most), never a system record
    # and never the customer's own words, as on HubSpot and Salesforce.
    return _interaction(row, "annotationid", contact_id, "note", "internal", row.get("subject"),
                        row.get("notetext"), ("createdon",), author="rep")


def case_interaction(row: Mapping[str, Any], contact_id: str) -> Interaction:
    return _interaction(row, "incidentid", contact_id, "ticket", "inbound", row.get("title"),
                        row.get("description"), ("createdon",),
                        {"ticketnumber": row.get("ticketnumber"), "statecode": row.get("statecode"),
                         "status": CASE_STATES.get(row.get("statecode"))}, author="customer")


def deal_from_row(row: Mapping[str, Any], contact_id: str) -> Deal:
    state = row.get("statecode")
    stage = "closedwon" if state == _WON else "closedlost" if state == _LOST else \
        _DEAL_STAGE.get(row.get("salesstage") or 0, "qualifiedtobuy")
    name = str(row.get("name") or "")
    amount = row.get("actualvalue") if state == _WON and row.get("actualvalue") else row.get("estimatedvalue")
    return Deal(id=str(row["opportunityid"]), contact_id=contact_id, stage=stage, type=deal_type(name),
                name=name, amount=float(amount) if amount is not None else None,
                created=parse_time(row.get("createdon")),
                close_date=parse_time(row.get("actualclosedate") or row.get("estimatedclosedate")))


def by_time(interactions: list[Interaction]) -> list[Interaction]:
    return sorted(interactions, key=lambda i: (i.occurred_at, i.id))


class ContactReader:
    """One contact's history in 7 queries (see ``bulk_read`` for many contacts at once)."""

    def __init__(self, client: WebApiClient, page_size: int = 500) -> None:
        self.client = client
        self.page_size = page_size

    def _rows(self, entity_set: str, select: str, filter_: str, describe: str,
              orderby: str | None = None) -> Iterator[dict[str, Any]]:
        params = {"$select": select, "$filter": filter_, **({"$orderby": orderby} if orderby else {})}
        return self.client.rows(entity_set, params, page_size=self.page_size, describe=describe)

    def contact(self, contact_id: str) -> ContactFacts:
        row = self.client.get_json(f"contacts({contact_id})", {"$select": CONTACT_COLUMNS}, formatted_values=True,
                                   describe=f"read contact {contact_id}")
        return contact_facts(row, contact_id)

    def interactions(self, contact_id: str) -> list[Interaction]:
        found: list[Interaction] = []
        for entity_set, table, kind, has_direction in ACTIVITY_TABLES:
            query = (f"{table}_activity_parties/any(p:p/_partyid_value eq {contact_id}) "
                     f"or _regardingobjectid_value eq {contact_id}")
            for row in self._rows(entity_set, activity_columns(has_direction), query,
                                  f"read {entity_set} of contact {contact_id}"):
                found.append(activity_interaction(row, contact_id, kind, has_direction))
        for row in self._rows("annotations", NOTE_COLUMNS, f"_objectid_value eq {contact_id}",
                              f"read notes of contact {contact_id}"):
            found.append(note_interaction(row, contact_id))
        for row in self._rows("incidents", CASE_COLUMNS, f"_customerid_value eq {contact_id}",
                              f"read cases of contact {contact_id}"):
            found.append(case_interaction(row, contact_id))
        return by_time(found)

    def deals(self, contact_id: str) -> list[Deal]:
        query = f"_parentcontactid_value eq {contact_id} or _customerid_value eq {contact_id}"
        return [deal_from_row(row, contact_id) for row in self._rows(
            "opportunities", DEAL_COLUMNS, query, f"read opportunities of contact {contact_id}", DEAL_ORDER)]


# object types the receiver reports -> how to find the contacts an event concerns
ContactResolver = Callable[[WebApiClient, str], list[str]]


def _party_contacts(table: str) -> ContactResolver:
    def resolve(client: WebApiClient, activity_id: str) -> list[str]:
        row = client.get_json(f"{table}s({activity_id})", {"$select": "activityid,_regardingobjectid_value"},
                              describe=f"read {table} {activity_id}")
        candidates = {str(p["_partyid_value"]) for p in client.rows(
            "activityparties", {"$select": "_partyid_value,participationtypemask",
                                "$filter": f"_activityid_value eq {activity_id}"},
            describe=f"read parties of {table} {activity_id}") if p.get("_partyid_value")}
        if row.get("_regardingobjectid_value"):
            candidates.add(str(row["_regardingobjectid_value"]))
        return _only_contacts(client, candidates)
    return resolve


def _only_contacts(client: WebApiClient, candidates: set[str]) -> list[str]:
    """Parties and "regarding" may be accounts, users or queues: keep the ids that are contacts."""
    if not candidates:
        return []
    query = " or ".join(f"contactid eq {c}" for c in sorted(candidates))
    return sorted(str(r["contactid"]) for r in client.rows("contacts", {"$select": "contactid", "$filter": query},
                                                          describe="check which parties are contacts"))


def _lookup(entity_set: str, id_column: str, *columns: str) -> ContactResolver:
    def resolve(client: WebApiClient, record_id: str) -> list[str]:
        row = client.get_json(f"{entity_set}({record_id})", {"$select": ",".join((id_column, *columns))},
                              describe=f"read {entity_set} {record_id}")
        return _only_contacts(client, {str(row[c]) for c in columns if row.get(c)})
    return resolve


RESOLVERS: dict[str, ContactResolver] = {
    "email": _party_contacts("email"),
    "call": _party_contacts("phonecall"),
    "meeting": _party_contacts("appointment"),
    "note": _lookup("annotations", "annotationid", "_objectid_value"),
    "ticket": _lookup("incidents", "incidentid", "_customerid_value"),
    "deal": _lookup("opportunities", "opportunityid", "_parentcontactid_value", "_customerid_value"),
}


# Rows modified since a reconcile's cursor that point at contacts: (entity set, id column, contact columns).
CHANGED_SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    *((entity_set, "activityid", ("_regardingobjectid_value",)) for entity_set, _, _, _ in ACTIVITY_TABLES),
    ("annotations", "annotationid", ("_objectid_value",)),
    ("incidents", "incidentid", ("_customerid_value",)),
    ("opportunities", "opportunityid", ("_parentcontactid_value", "_customerid_value")),
)
IN_CHUNK = 50  # ids per Microsoft.Dynamics.CRM.In(...): keeps the URL well under Dataverse's 32 KB


def changed_contacts(client: WebApiClient, since_iso: str) -> list[str]:
    """Contacts of the activities (as party or "regarding"), notes, cases and opportunities modified at or
    after ``since_iso``, whoever modified them; creating an activity does not touch the contact row."""
    candidates: set[str] = set()
    activities: list[str] = []
    for entity_set, id_column, columns in CHANGED_SOURCES:
        for row in client.rows(entity_set, {"$select": ",".join((id_column, *columns)),
                                            "$filter": f"modifiedon ge {since_iso}"},
                               describe=f"list {entity_set} changed since the last reconcile"):
            candidates.update(str(row[c]) for c in columns if row.get(c))
            if id_column == "activityid":
                activities.append(str(row[id_column]))
    for start in range(0, len(activities), IN_CHUNK):
        values = ",".join(f"'{a}'" for a in activities[start:start + IN_CHUNK])
        in_activities = f"Microsoft.Dynamics.CRM.In(PropertyName='activityid',PropertyValues=[{values}])"
        candidates.update(str(p["_partyid_value"]) for p in client.rows(
            "activityparties", {"$select": "_activityid_value,_partyid_value", "$filter": in_activities},
            describe="read the parties of changed activities") if p.get("_partyid_value"))
    ordered = sorted(candidates)
    found: list[str] = []
    for start in range(0, len(ordered), IN_CHUNK):
        found += _only_contacts(client, set(ordered[start:start + IN_CHUNK]))
    return sorted(set(found))
