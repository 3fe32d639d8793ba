"""Pure HubSpot <-> CEM translation: property definitions, value formats, records -> engine types.

No network here, so every rule is unit-testable. Property names are HubSpot's
(developers.hubspot.com object guides; see shared/reference/crm-apis.md §1.3-1.5):
emails ``hs_email_direction`` (EMAIL = sent by a rep, INCOMING_EMAIL = from the
contact, FORWARDED_EMAIL), calls ``hs_call_direction``, tickets ``subject``/``content``,
communications ``hs_communication_body`` (SMS / WhatsApp / LinkedIn messages),
feedback submissions ``hs_survey_type``/``hs_value``/``hs_content``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cem_engine.model import DEAL_STAGES, ContactFacts, Deal, Interaction

from ..fields import FieldSpec, as_utc, coerce, to_iso_z
from .consts import GROUP_NAME, PROPERTY_PREFIX

CONTACT_PROPERTIES = ("email", "firstname", "lastname", "lifecyclestage", "createdate", "lastmodifieddate",
                      "company", "hubspot_owner_id")

# FieldSpec.type -> (HubSpot type, fieldType). dateTime pairs with fieldType "date" (properties guide table).
PROPERTY_TYPES: dict[str, tuple[str, str]] = {
    "picklist": ("enumeration", "select"),
    "datetime": ("datetime", "date"),
    "number": ("number", "number"),
    "longtext": ("string", "textarea"),
}


def property_name(spec: FieldSpec) -> str:
    return PROPERTY_PREFIX + spec.key


def property_definition(spec: FieldSpec, display_order: int) -> dict[str, Any]:
    """The PropertyCreate body (wire names) for one CEM field."""
    hs_type, field_type = PROPERTY_TYPES[spec.type]
    body: dict[str, Any] = {
        "name": property_name(spec), "label": spec.label, "type": hs_type, "fieldType": field_type,
        "groupName": GROUP_NAME, "description": spec.description, "displayOrder": display_order,
        "formField": False, "hasUniqueValue": False, "hidden": False,
    }
    if spec.type == "picklist":
        body["options"] = [{"label": spec.option_label(value), "value": value, "displayOrder": index, "hidden": False}
                           for index, value in enumerate(spec.options)]
    return body


def definition_changes(wanted: Mapping[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """The PropertyUpdate body that brings ``existing`` to ``wanted``; empty when nothing differs.

    Options present in HubSpot but not wanted are kept (never delete values people may have used).
    """
    changes: dict[str, Any] = {}
    for key in ("label", "type", "fieldType", "groupName", "description"):
        if wanted.get(key) != existing.get(key):
            changes[key] = wanted[key]
    if "options" in wanted:
        have = {str(o.get("value")): o for o in existing.get("options") or []}
        merged = [dict(o) for o in existing.get("options") or []]
        missing = [o for o in wanted["options"] if o["value"] not in have]
        relabelled = [o for o in wanted["options"]
                      if o["value"] in have and have[o["value"]].get("label") != o["label"]]
        if missing or relabelled:
            labels = {o["value"]: o["label"] for o in wanted["options"]}
            merged = [dict(o, label=labels.get(str(o.get("value")), o.get("label"))) for o in merged]
            merged += [dict(o, displayOrder=len(merged) + i) for i, o in enumerate(missing)]
            changes["options"] = merged
    return changes


# -- values ------------------------------------------------------------------------------------
def format_value(spec: FieldSpec, value: Any) -> str:
    """A CEM value as HubSpot takes it in ``properties`` (all strings; "" clears)."""
    value = coerce(spec, value)
    if value is None:
        return ""
    if spec.type == "datetime":
        moment = value if isinstance(value, datetime) else parse_moment(value)
        if moment is None:
            raise ValueError(f"{spec.key}: not a datetime: {value!r}")
        return to_iso_z(moment)  # HubSpot accepts ISO 8601 (UTC) or epoch ms for datetime properties
    if spec.type == "number":
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def parse_value(spec: FieldSpec, raw: Any) -> Any:
    """A HubSpot property string back to a Python value (None when empty)."""
    if raw is None or raw == "":
        return None
    if spec.type == "number":
        number = float(raw)
        return int(number) if spec.scale == 0 and number.is_integer() else number
    if spec.type == "datetime":
        return parse_moment(raw)
    return str(raw)


def parse_moment(value: Any) -> datetime | None:
    """HubSpot datetimes come as ISO 8601 strings or epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d{1,15}", text):
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(parsed)


def parse_day(value: Any) -> date | None:
    moment = parse_moment(value)
    return moment.date() if moment else None


# -- records -> engine types ---------------------------------------------------------------------
def contact_facts(record: Mapping[str, Any], renewal_property: str | None = None,
                  owners: Mapping[str, str] | None = None) -> ContactFacts:
    """``owners``: owner id -> display name (the owners API); an owner missing from it stays unnamed."""
    props = record.get("properties") or {}
    name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p) or None
    owner_id = props.get("hubspot_owner_id")
    return ContactFacts(
        contact_id=str(record["id"]), lifecycle_stage=props.get("lifecyclestage") or None,
        renewal_date=parse_day(props.get(renewal_property)) if renewal_property else None,
        created_at=parse_moment(props.get("createdate") or record.get("createdAt")),
        email=props.get("email") or None, name=name, company=props.get("company") or None,
        owner=(owners or {}).get(str(owner_id)) if owner_id else None,
    )


def owner_name(owner: Mapping[str, Any]) -> str | None:
    """An owner as HubSpot's UI names it: first and last name, else the email."""
    full = " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p)
    return full or owner.get("email") or None


def deal_type(dealtype: str | None, name: str) -> str:
    """newbusiness -> new_business; existingbusiness -> upsell unless the deal says it is a renewal."""
    kind = (dealtype or "").lower()
    if "renew" in kind or (kind == "existingbusiness" and "renew" in name.lower()):
        return "renewal"
    if kind == "existingbusiness":
        return "upsell"
    return "new_business"


def to_deal(record: Mapping[str, Any], contact_id: str, stage_map: Mapping[str, str]) -> Deal:
    props = record.get("properties") or {}
    name = props.get("dealname") or ""
    raw_stage = props.get("dealstage") or ""
    stage = raw_stage if raw_stage in DEAL_STAGES else stage_map.get(raw_stage, "appointmentscheduled")
    amount = props.get("amount")
    try:
        value = float(amount) if amount not in (None, "") else None
    except ValueError:
        value = None
    return Deal(id=str(record["id"]), contact_id=contact_id, stage=stage, type=deal_type(props.get("dealtype"), name),
                name=name, amount=value, created=parse_moment(props.get("createdate") or record.get("createdAt")),
                close_date=parse_moment(props.get("closedate")))


@dataclass(frozen=True)
class EngagementType:
    """How one HubSpot object type becomes an Interaction."""

    object_type: str  # v3/v4 path name
    properties: tuple[str, ...]
    convert: Callable[[Mapping[str, Any], str], Interaction | None]


def _when(props: Mapping[str, Any], record: Mapping[str, Any], *names: str) -> datetime | None:
    for name in names:
        moment = parse_moment(props.get(name))
        if moment:
            return moment
    return parse_moment(record.get("createdAt"))


# The normalised interaction schema (cem_engine.schema): HubSpot's default ticket pipeline "0" has the stage
# ids 1 New, 2 Waiting on contact, 3 Waiting on us, 4 Closed; stages of custom pipelines pass through raw
# (the engine reads an unknown status as open). Call outcomes are HubSpot's default disposition GUIDs.
TICKET_STAGES = {"1": "new", "2": "pending", "3": "open", "4": "closed"}
TICKET_PRIORITIES = {"LOW": "low", "MEDIUM": "normal", "HIGH": "high", "URGENT": "urgent"}
CALL_OUTCOMES = {
    "f240bbac-87c9-4f6e-bf70-924b57d47db7": "connected",
    "73a0d17f-1163-4015-bdd5-ec830791da20": "no_answer",
    "b2cf5968-551e-4856-9783-52b3da59a7d0": "voicemail",
    "a4c4c377-d246-4b32-a13b-75a56a4cd0ff": "voicemail",  # "left live message": someone else took it
    "9d9162e7-6cf3-4944-bf63-4dff82258764": "busy",
    "17b47fee-58de-441e-a44c-c6300d46f273": "wrong_number",
}


def _readable(value: Any) -> str | None:
    """HubSpot enum values (PRODUCT_ISSUE) as the words a reason reads ("Product issue")."""
    text = str(value or "").strip()
    return text.replace("_", " ").capitalize() if text.isupper() else text or None


def _base(record: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    return str(record["id"]), record.get("properties") or {}


def email_interaction(record: Mapping[str, Any], contact_id: str) -> Interaction | None:
    object_id, props = _base(record)
    when = _when(props, record, "hs_timestamp", "hs_createdate")
    if when is None:
        return None
    direction_raw = (props.get("hs_email_direction") or "").upper()
    inbound = direction_raw == "INCOMING_EMAIL"
    return Interaction(
        id=f"email:{object_id}", contact_id=contact_id, kind="email", direction="inbound" if inbound else "outbound",
        occurred_at=when, author="customer" if inbound else "rep", subject=props.get("hs_email_subject") or "",
        body=props.get("hs_email_text") or props.get("hs_email_html") or "",  # text preferred; engine strips HTML
        metadata={"hubspot_type": "emails", "email_direction": direction_raw or None,
                  "html": not props.get("hs_email_text") and bool(props.get("hs_email_html"))},
    )


def note_interaction(record: Mapping[str, Any], contact_id: str) -> Interaction | None:
    object_id, props = _base(record)
    when = _when(props, record, "hs_timestamp", "hs_createdate")
    if when is None:
        return None
    return Interaction(id=f"note:{object_id}", contact_id=contact_id, kind="note", direction="internal",
                       occurred_at=when, author="rep", body=props.get("hs_note_body") or "",
                       metadata={"hubspot_type": "notes"})


def call_interaction(record: Mapping[str, Any], contact_id: str) -> Interaction | None:
    object_id, props = _base(record)
    when = _when(props, record, "hs_timestamp", "hs_createdate")
    if when is None:
        return None
    inbound = (props.get("hs_call_direction") or "").upper() == "INBOUND"
    # call notes are typed by the rep, whoever dialled: they never count as the customer's words
    return Interaction(id=f"call:{object_id}", contact_id=contact_id, kind="call",
                       direction="inbound" if inbound else "outbound", occurred_at=when, author="rep",
                       subject=props.get("hs_call_title") or "", body=props.get("hs_call_body") or "",
                       metadata={"hubspot_type": "calls", "duration_ms": props.get("hs_call_duration"),
                                 "disposition": props.get("hs_call_disposition"),
                                 "outcome": CALL_OUTCOMES.get(str(props.get("hs_call_disposition") or ""))})


def meeting_interaction(record: Mapping[str, Any], contact_id: str) -> Interaction | None:
    object_id, props = _base(record)
    when = _when(props, record, "hs_meeting_start_time", "hs_timestamp", "hs_createdate")
    if when is None:
        return None
    return Interaction(id=f"meeting:{object_id}", contact_id=contact_id, kind="meeting", direction="outbound",
                       occurred_at=when, author="rep", subject=props.get("hs_meeting_title") or "",
                       body=props.get("hs_meeting_body") or "",
                       metadata={"hubspot_type": "meetings", "outcome": props.get("hs_meeting_outcome")})


def ticket_interaction(record: Mapping[str, Any], contact_id: str) -> Interaction | None:
    object_id, props = _base(record)
    when = _when(props, record, "createdate", "hs_createdate")
    if when is None:
        return None
    # the ticket description is what the customer reported
    return Interaction(id=f"ticket:{object_id}", contact_id=contact_id, kind="ticket", direction="inbound",
                       occurred_at=when, author="customer", subject=props.get("subject") or "",
                       body=props.get("content") or "",
                       metadata={"hubspot_type": "tickets", "stage": props.get("hs_pipeline_stage"),
                                 "status": TICKET_STAGES.get(str(props.get("hs_pipeline_stage") or ""),
                                                             props.get("hs_pipeline_stage")),
                                 "priority": TICKET_PRIORITIES.get(str(props.get("hs_ticket_priority") or "").upper()),
                                 "category": _readable(props.get("hs_ticket_category"))})


def communication_interaction(record: Mapping[str, Any], contact_id: str) -> Interaction | None:
    object_id, props = _base(record)
    when = _when(props, record, "hs_timestamp", "hs_createdate")
    if when is None:
        return None
    # HubSpot communications carry no direction property; logged messages are the contact's side
    return Interaction(id=f"chat:{object_id}", contact_id=contact_id, kind="chat", direction="inbound",
                       occurred_at=when, author="customer", body=props.get("hs_communication_body") or "",
                       metadata={"hubspot_type": "communications",
                                 "channel": props.get("hs_communication_channel_type")})


def feedback_interaction(record: Mapping[str, Any], contact_id: str) -> Interaction | None:
    object_id, props = _base(record)
    when = _when(props, record, "hs_submission_timestamp", "hs_createdate")
    if when is None:
        return None
    survey_type = (props.get("hs_survey_type") or "").upper()
    score = props.get("hs_value") if props.get("hs_value") not in (None, "") else props.get("hs_response_value")
    metadata: dict[str, Any] = {"hubspot_type": "feedback_submissions", "survey_type": survey_type or None,
                                "response_group": props.get("hs_response_group")}
    try:
        number = float(score) if score not in (None, "") else None
    except ValueError:
        number = None
    if number is not None:
        metadata[survey_type.lower() if survey_type in ("NPS", "CSAT", "CES") else "score"] = number
    return Interaction(id=f"survey:{object_id}", contact_id=contact_id, kind="survey", direction="inbound",
                       occurred_at=when, author="customer", subject=props.get("hs_survey_name") or "",
                       body=props.get("hs_content") or "", metadata=metadata)


ENGAGEMENT_TYPES: tuple[EngagementType, ...] = (
    EngagementType("emails", ("hs_timestamp", "hs_createdate", "hs_email_direction", "hs_email_subject",
                              "hs_email_text", "hs_email_html", "hs_email_status"), email_interaction),
    EngagementType("notes", ("hs_timestamp", "hs_createdate", "hs_note_body"), note_interaction),
    EngagementType("calls", ("hs_timestamp", "hs_createdate", "hs_call_title", "hs_call_body", "hs_call_direction",
                             "hs_call_duration", "hs_call_disposition"), call_interaction),
    EngagementType("meetings", ("hs_timestamp", "hs_createdate", "hs_meeting_title", "hs_meeting_body",
                                "hs_meeting_start_time", "hs_meeting_outcome"), meeting_interaction),
    EngagementType("tickets", ("createdate", "hs_createdate", "subject", "content", "hs_ticket_priority",
                               "hs_ticket_category", "hs_pipeline_stage"), ticket_interaction),
    EngagementType("communications", ("hs_timestamp", "hs_createdate", "hs_communication_channel_type",
                                      "hs_communication_body"), communication_interaction),
    EngagementType("feedback_submissions", ("hs_submission_timestamp", "hs_createdate", "hs_survey_type",
                                            "hs_survey_name", "hs_value", "hs_response_value", "hs_response_group",
                                            "hs_content"), feedback_interaction),
)
DEAL_PROPERTIES = ("dealname", "dealstage", "dealtype", "amount", "createdate", "closedate", "pipeline")

# Neutral object types (ChangeEvent.object_type) -> HubSpot path names, for contacts_for().
OBJECT_PATHS: dict[str, str] = {
    "email": "emails", "note": "notes", "call": "calls", "meeting": "meetings", "ticket": "tickets",
    "chat": "communications", "survey": "feedback_submissions", "deal": "deals", "contact": "contacts",
}


def stage_from_pipeline(stage: Mapping[str, Any]) -> str:
    """A custom pipeline stage onto the default pipeline's names, from its closed flag and probability."""
    metadata = stage.get("metadata") or {}
    try:
        probability = float(metadata.get("probability", 0) or 0)
    except ValueError:
        probability = 0.0
    if str(metadata.get("isClosed", "")).lower() == "true":
        return "closedwon" if probability >= 1.0 else "closedlost"
    for ceiling, name in ((0.2, "appointmentscheduled"), (0.4, "qualifiedtobuy"), (0.6, "presentationscheduled"),
                          (0.8, "decisionmakerboughtin")):
        if probability <= ceiling:
            return name
    return "contractsent"
