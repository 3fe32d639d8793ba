"""HubSpot's object model as the sandbox needs it: object types, built-in properties,
association type ids, and the property-value rules HubSpot enforces on writes.

Sources (checked for this module):
- object type ids (0-1 contacts ... 0-19 feedback submissions): developers.hubspot.com
  "understanding the CRM" object type id list (docs copy found with the search tool);
- HUBSPOT_DEFINED association type ids contact->X / X->contact: the v4 associations
  guide's "association type ID values" table (contact->deal 4, ->ticket 15, ->call 193,
  ->email 197, ->meeting 199, ->note 201, ->task 203, ->communication 82), reverse ids from
  the same table (ticket->contact 16, note->contact 202, ...). Contact<->feedback submission
  is not in that table: 97/98 below are (unverified) stand-ins;
- valid type/fieldType pairs: properties guide table (bool: booleancheckbox|calculation_equation;
  enumeration: booleancheckbox|checkbox|radio|select|calculation_equation; date and datetime: date;
  string: file|text|textarea|calculation_equation (+html, phonenumber in newer docs); number:
  number|calculation_equation);
- write validation errors (PROPERTY_DOESNT_EXIST, INVALID_OPTION, READ_ONLY_VALUE ...) and the
  "Property values were not valid: [...]" message: payloads captured in public client code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..base import as_utc

VALID_FIELD_TYPES: dict[str, frozenset[str]] = {
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
    "enumeration": frozenset({"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "string": frozenset({"file", "text", "textarea", "calculation_equation", "html", "phonenumber"}),
    "number": frozenset({"number", "calculation_equation"}),
}

PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    display_order: int = -1
    hubspot_defined: bool = False
    read_only: bool = False
    has_unique_value: bool = False
    hidden: bool = False
    form_field: bool = False
    created_at: str = ""
    updated_at: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``Property`` model of the properties API."""
        body: dict[str, Any] = {
            "name": self.name, "label": self.label, "type": self.type, "fieldType": self.field_type,
            "description": self.description, "groupName": self.group_name,
            "options": [dict(o) for o in self.options], "displayOrder": self.display_order,
            "calculated": False, "externalOptions": False, "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden, "formField": self.form_field, "archived": False,
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.hubspot_defined,
                                     "readOnlyValue": self.read_only},
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        if self.created_at:
            body["createdAt"] = self.created_at
            body["updatedAt"] = self.updated_at or self.created_at
        return body

    def option_values(self) -> set[str]:
        return {str(o["value"]) for o in self.options}


@dataclass(frozen=True)
class ObjectType:
    name: str  # plural path name: contacts, notes ...
    singular: str
    type_id: str  # 0-1 ...
    created_property: str
    modified_property: str
    default_properties: tuple[str, ...]
    contact_type_ids: tuple[int, int] | None  # (contact -> this, this -> contact) association type ids
    association_label: str  # CONTACT_TO_<label> in legacy associationChange events


_ENGAGEMENT_DEFAULTS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
_ENG = ("hs_createdate", "hs_lastmodifieddate", _ENGAGEMENT_DEFAULTS)  # created / modified / default properties

OBJECT_TYPES: dict[str, ObjectType] = {t.name: t for t in (
    ObjectType("contacts", "contact", "0-1", "createdate", "lastmodifieddate",
               ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"), None, "CONTACT"),
    ObjectType("deals", "deal", "0-3", "createdate", "hs_lastmodifieddate",
               ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
                "pipeline"), (4, 3), "DEAL"),
    ObjectType("tickets", "ticket", "0-5", "createdate", "hs_lastmodifieddate",
               ("content", "createdate", "hs_lastmodifieddate", "hs_object_id", "hs_pipeline", "hs_pipeline_stage",
                "hs_ticket_category", "hs_ticket_priority", "subject"), (15, 16), "TICKET"),
    ObjectType("tasks", "task", "0-27", *_ENG, (203, 204), "TASK"),
    ObjectType("notes", "note", "0-46", *_ENG, (201, 202), "NOTE"),
    ObjectType("meetings", "meeting", "0-47", *_ENG, (199, 200), "MEETING"),
    ObjectType("calls", "call", "0-48", *_ENG, (193, 194), "CALL"),
    ObjectType("emails", "email", "0-49", *_ENG, (197, 198), "EMAIL"),
    ObjectType("communications", "communication", "0-18", *_ENG, (82, 81), "COMMUNICATION"),
    ObjectType("feedback_submissions", "feedback_submission", "0-19", "hs_createdate", "hs_lastmodifieddate",
               _ENGAGEMENT_DEFAULTS, (97, 98), "FEEDBACK_SUBMISSION"),
)}

_ALIASES = {t.singular: t.name for t in OBJECT_TYPES.values()} | {t.type_id: t.name for t in OBJECT_TYPES.values()}


def resolve_object_type(path_name: str) -> ObjectType | None:
    """HubSpot accepts the plural name, the singular name or the object type id in paths."""
    key = path_name.lower()
    return OBJECT_TYPES.get(key) or OBJECT_TYPES.get(_ALIASES.get(key, ""))


def _opts(*values: str) -> list[dict[str, Any]]:
    return [{"label": v.replace("_", " ").title(), "value": v, "displayOrder": i, "hidden": False}
            for i, v in enumerate(values)]


LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
                    "evangelist", "other")
DEAL_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
               "contractsent", "closedwon", "closedlost")
# default ticket pipeline "0": 1 New, 2 Waiting on contact, 3 Waiting on us, 4 Closed
TICKET_STAGES = ("1", "2", "3", "4")

# (name, label, type, fieldType, options, read only)
_P = tuple[str, str, str, str, tuple[str, ...], bool]
_COMMON: tuple[_P, ...] = (
    ("hs_object_id", "Record ID", "number", "number", (), True),
    ("hs_createdate", "Create date", "datetime", "date", (), True),
    ("hs_lastmodifieddate", "Last modified date", "datetime", "date", (), True),
    ("hubspot_owner_id", "Owner", "enumeration", "select", (), False),
)
_ENGAGEMENT: tuple[_P, ...] = (("hs_timestamp", "Activity date", "datetime", "date", (), False),)
_BUILT_IN: dict[str, tuple[_P, ...]] = {
    "contacts": (
        ("firstname", "First name", "string", "text", (), False),
        ("lastname", "Last name", "string", "text", (), False),
        ("email", "Email", "string", "text", (), False),
        ("company", "Company name", "string", "text", (), False),
        ("lifecyclestage", "Lifecycle stage", "enumeration", "radio", LIFECYCLE_STAGES, False),
        ("createdate", "Create date", "datetime", "date", (), False),
        ("lastmodifieddate", "Last modified date", "datetime", "date", (), True),
    ),
    "deals": (
        ("dealname", "Deal name", "string", "text", (), False),
        ("dealstage", "Deal stage", "enumeration", "radio", DEAL_STAGES, False),
        ("pipeline", "Pipeline", "enumeration", "select", ("default",), False),
        ("amount", "Amount", "number", "number", (), False),
        ("closedate", "Close date", "datetime", "date", (), False),
        ("createdate", "Create date", "datetime", "date", (), False),
        ("dealtype", "Deal type", "enumeration", "radio", ("newbusiness", "existingbusiness"), False),
    ),
    "tickets": (
        ("subject", "Ticket name", "string", "text", (), False),
        ("content", "Ticket description", "string", "textarea", (), False),
        ("hs_pipeline", "Pipeline", "enumeration", "select", ("0",), False),
        ("hs_pipeline_stage", "Ticket status", "enumeration", "select", TICKET_STAGES, False),
        ("hs_ticket_category", "Category", "enumeration", "checkbox",
         ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"), False),
        ("hs_ticket_priority", "Priority", "enumeration", "select", ("LOW", "MEDIUM", "HIGH"), False),
        ("createdate", "Create date", "datetime", "date", (), False),
    ),
    "notes": (*_ENGAGEMENT, ("hs_note_body", "Note body", "string", "html", (), False)),
    "emails": (
        *_ENGAGEMENT,
        ("hs_email_subject", "Subject", "string", "text", (), False),
        ("hs_email_text", "Body text", "string", "textarea", (), False),
        ("hs_email_html", "Body", "string", "html", (), False),
        ("hs_email_direction", "Email direction", "enumeration", "select",
         ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"), False),
        ("hs_email_status", "Email send status", "enumeration", "select",
         ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"), False),
    ),
    "calls": (
        *_ENGAGEMENT,
        ("hs_call_title", "Call title", "string", "text", (), False),
        ("hs_call_body", "Call notes", "string", "html", (), False),
        ("hs_call_direction", "Call direction", "enumeration", "select", ("INBOUND", "OUTBOUND"), False),
        ("hs_call_duration", "Call duration", "number", "number", (), False),
    ),
    "meetings": (
        *_ENGAGEMENT,
        ("hs_meeting_title", "Meeting name", "string", "text", (), False),
        ("hs_meeting_body", "Meeting description", "string", "html", (), False),
        ("hs_meeting_start_time", "Start time", "datetime", "date", (), False),
        ("hs_meeting_end_time", "End time", "datetime", "date", (), False),
    ),
    "tasks": (
        *_ENGAGEMENT,
        ("hs_task_subject", "Task title", "string", "text", (), False),
        ("hs_task_body", "Task notes", "string", "html", (), False),
        ("hs_task_status", "Task status", "enumeration", "select", ("NOT_STARTED", "COMPLETED"), False),
    ),
    # communications hold SMS / WhatsApp / LinkedIn messages; HubSpot has no "CHAT" channel value
    # communications hold SMS / WhatsApp / LinkedIn messages; HubSpot has no "CHAT" channel value
    "communications": (
        *_ENGAGEMENT,
        ("hs_communication_channel_type", "Channel type", "enumeration", "select",
         ("SMS", "WHATS_APP", "LINKEDIN_MESSAGE"), False),
        ("hs_communication_logged_from", "Logged from", "enumeration", "select", ("CRM",), False),
        ("hs_communication_body", "Communication body", "string", "textarea", (), False),
    ),
    # feedback submissions are read-only through the API (HubSpot surveys create them)
    "feedback_submissions": (
        ("hs_survey_type", "Survey type", "enumeration", "select", ("NPS", "CSAT", "CES", "CUSTOM"), True),
        ("hs_survey_name", "Survey name", "string", "text", (), True),
        ("hs_survey_channel", "Survey channel", "enumeration", "select", ("EMAIL", "WEB", "LINK"), True),
        ("hs_value", "Response value", "number", "number", (), True),
        ("hs_response_value", "Response value", "number", "number", (), True),
        ("hs_response_group", "Response group", "enumeration", "select",
         ("PROMOTER", "PASSIVE", "DETRACTOR", "SATISFIED", "NEUTRAL", "DISSATISFIED"), True),
        ("hs_content", "Response", "string", "textarea", (), True),
        ("hs_submission_timestamp", "Submission timestamp", "datetime", "date", (), True),
        ("hs_contact_id", "Contact ID", "number", "number", (), True),
    ),
}

DEFAULT_GROUPS: dict[str, tuple[str, str]] = {
    "contacts": ("contactinformation", "Contact information"),
    "deals": ("dealinformation", "Deal information"),
    "tickets": ("ticketinformation", "Ticket information"),
}


def built_in_properties(object_type: str) -> dict[str, PropertyDef]:
    group = DEFAULT_GROUPS.get(object_type, (f"{OBJECT_TYPES[object_type].singular}information", ""))[0]
    rows = _COMMON + _BUILT_IN.get(object_type, ())
    if object_type == "contacts":
        rows = tuple(r for r in rows if r[0] != "hs_createdate")
    return {name: PropertyDef(name, label, ptype, ftype, group, options=_opts(*opts), hubspot_defined=True,
                              read_only=read_only)
            for name, label, ptype, ftype, opts, read_only in rows}


# -- timestamps and values ---------------------------------------------------------------------------------------

def iso_ms(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_moment(value: Any) -> datetime | None:
    """HubSpot takes datetimes as epoch milliseconds or ISO 8601; None when neither."""
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(parsed)


@dataclass(frozen=True)
class InvalidValue:
    """One property validation failure, as HubSpot lists it inside a VALIDATION_ERROR message."""

    name: str
    error: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"isValid": False, "message": self.message, "error": self.error, "name": self.name,
                "localizedErrorMessage": self.message}


def normalise_value(prop: PropertyDef | None, name: str, raw: Any) -> tuple[str | None, InvalidValue | None]:
    """Validate one written value and return what HubSpot stores (strings; None clears)."""
    if prop is None:
        return None, InvalidValue(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if prop.read_only:
        return None, InvalidValue(name, "READ_ONLY_VALUE", f'Property "{name}" is a read only property; its value '
                                                         "cannot be set.")
    if raw is None or raw == "":
        return None, None  # an empty string clears the value
    text = str(raw).lower() if isinstance(raw, bool) else str(raw)
    if prop.type == "number":
        try:
            float(text)
        except ValueError:
            return None, InvalidValue(name, "INVALID_DOUBLE", f"{text} was not a valid number.")
        return text, None
    if prop.type == "enumeration":
        allowed = prop.option_values()
        chosen = text.split(";") if prop.field_type == "checkbox" else [text]
        bad = [v for v in chosen if v not in allowed]
        if bad:
            listed = ", ".join(sorted(allowed))
            return None, InvalidValue(name, "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: "
                                                             f"[{listed}]")
        return text, None
    if prop.type == "bool":
        if text not in ("true", "false"):
            return None, InvalidValue(name, "INVALID_BOOLEAN", f"{text} was not a valid boolean.")
        return text, None
    if prop.type in ("datetime", "date"):
        moment = parse_moment(text)
        if moment is None:
            return None, InvalidValue(name, "INVALID_DATE", f"{text} was not a valid date or datetime.")
        if prop.type == "date":
            if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
                return None, InvalidValue(name, "INVALID_DATE", f"{text} is not a valid date; dates must be at "
                                                               "midnight UTC.")
            return moment.strftime("%Y-%m-%d"), None
        return iso_ms(moment), None
    if len(text) > 65536:
        return None, InvalidValue(name, "INVALID_STRING", "String values are limited to 65536 characters.")
    return text, None


def stored_form(prop: PropertyDef | None, raw: Any) -> str | None:
    """How HubSpot stores a value it created itself: datetimes as ISO with ms, dates as YYYY-MM-DD."""
    if raw is None or raw == "":
        return None
    if prop is not None and prop.type in ("datetime", "date"):
        moment = parse_moment(raw)
        if moment is not None:
            return moment.strftime("%Y-%m-%d") if prop.type == "date" else iso_ms(moment)
    return str(raw).lower() if isinstance(raw, bool) else str(raw)


def validation_message(errors: list[InvalidValue]) -> str:
    return "Property values were not valid: " + json.dumps([e.to_json() for e in errors])
