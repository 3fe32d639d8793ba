"""Salesforce records <-> cem_engine types, and CEM values <-> Salesforce field values.

Who wrote the text decides whether it counts as the customer's feeling (DESIGN.md §3-4):
* EmailMessage: ``Incoming`` true -> inbound, customer; otherwise outbound, rep.
* Task: a call's description is the rep's notes (author rep; direction from ``CallType``);
  logged emails (``TaskSubtype`` Email) are outbound, rep; other tasks are internal notes
  (``Type`` Meeting -> meeting).
* Case: opened by the customer (subject + description) -> ticket inbound, customer; Origin
  Chat -> chat, Web -> form.
* CaseComment: written by a portal / community user -> customer, by an internal user -> rep,
  by the Automated Process user -> system.
* SurveyResponse + SurveyQuestionResponse: the customer's answers; an NPS question's number
  goes to ``metadata['nps']``.
* Opportunity: StageName / IsClosed / IsWon map to the engine's (HubSpot-named) deal stages;
  Type maps to new_business / upsell / renewal (settings ``opportunity_type_map`` overrides).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from cem_engine.model import Deal, Interaction

from ..fields import FieldSpec, as_utc, coerce, to_iso_z

STAGES = {
    "prospecting": "appointmentscheduled", "qualification": "qualifiedtobuy", "needs analysis": "qualifiedtobuy",
    "value proposition": "presentationscheduled", "id. decision makers": "decisionmakerboughtin",
    "perception analysis": "decisionmakerboughtin", "proposal/price quote": "contractsent",
    "negotiation/review": "contractsent",
}
TYPES = {"new customer": "new_business", "existing customer - upgrade": "upsell",
         "existing customer - replacement": "renewal", "existing customer - downgrade": "renewal"}
CUSTOMER_USER_TYPES = {"PowerCustomerSuccess", "CustomerSuccess", "CspLitePortal", "PowerPartner", "Guest"}
TAG = re.compile(r"<[^>]+>")


def native_name(spec: FieldSpec) -> str:
    """``CEM_`` + the key in CamelCase + ``__c``: journey_stage -> CEM_Journey_Stage__c."""
    return "CEM_" + "_".join(part.capitalize() for part in spec.key.split("_")) + "__c"


def parse_datetime(value: Any) -> datetime | None:
    """Salesforce datetimes (``2026-09-12T10:00:00.000+0000``) and dates as aware UTC datetimes."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return as_utc(parsed)


def parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _text(*parts: Any) -> str:
    return "\n".join(str(p).strip() for p in parts if p and str(p).strip())


def _when(record: Mapping[str, Any], *names: str) -> datetime:
    for name in names:
        moment = parse_datetime(record.get(name))
        if moment:
            return moment
    return datetime.fromtimestamp(0, UTC)


def task_interaction(task: Mapping[str, Any], contact_id: str) -> Interaction:
    subtype = (task.get("TaskSubtype") or "").lower()
    common = {"id": task["Id"], "contact_id": contact_id, "occurred_at": _when(task, "CreatedDate"),
              "subject": task.get("Subject") or "", "body": task.get("Description") or "",
              "metadata": {"source": "Task", "task_status": task.get("Status")}}
    if subtype == "call" or task.get("CallType"):
        direction = "inbound" if (task.get("CallType") or "").lower() == "inbound" else "outbound"
        common["metadata"]["duration_seconds"] = task.get("CallDurationInSeconds")
        if task.get("CallDisposition"):  # free text the org defines ("Left voicemail"); the engine normalises it
            common["metadata"]["outcome"] = task["CallDisposition"]
        return Interaction(kind="call", direction=direction, author="rep", **common)
    if subtype in ("email", "listemail"):
        return Interaction(kind="email", direction="outbound", author="rep", **common)
    kind = "meeting" if (task.get("Type") or "").lower() == "meeting" else "note"
    return Interaction(kind=kind, direction="internal", author="rep", **common)


def email_interaction(email: Mapping[str, Any], contact_id: str) -> Interaction:
    incoming = bool(email.get("Incoming"))
    body = email.get("TextBody") or TAG.sub(" ", email.get("HtmlBody") or "")
    return Interaction(id=email["Id"], contact_id=contact_id, kind="email",
                       direction="inbound" if incoming else "outbound", author="customer" if incoming else "rep",
                       occurred_at=_when(email, "MessageDate", "CreatedDate"), subject=email.get("Subject") or "",
                       body=body, metadata={"source": "EmailMessage", "case_id": email.get("ParentId")})


def case_interaction(case: Mapping[str, Any], contact_id: str) -> Interaction:
    origin = (case.get("Origin") or "").lower()
    kind = "chat" if origin == "chat" else "form" if origin == "web" else "ticket"
    return Interaction(id=case["Id"], contact_id=contact_id, kind=kind, direction="inbound", author="customer",
                       occurred_at=_when(case, "CreatedDate"), subject=case.get("Subject") or "",
                       body=case.get("Description") or "",
                       metadata={"source": "Case", "case_number": case.get("CaseNumber"),
                                 "closed": bool(case.get("IsClosed")),
                                 # IsClosed is the truth whatever an org named its statuses
                                 "status": "closed" if case.get("IsClosed") else case.get("Status"),
                                 "priority": case.get("Priority")})


def comment_interaction(comment: Mapping[str, Any], contact_id: str, user_types: Mapping[str, str]) -> Interaction:
    user_type = user_types.get(str(comment.get("CreatedById") or "")[:15], "Standard")
    author = "customer" if user_type in CUSTOMER_USER_TYPES else "system" if user_type == "AutomatedProcess" else "rep"
    direction = "inbound" if author == "customer" else "outbound" if author == "rep" else "internal"
    return Interaction(id=comment["Id"], contact_id=contact_id, kind="ticket", direction=direction, author=author,
                       occurred_at=_when(comment, "CreatedDate"), body=comment.get("CommentBody") or "",
                       metadata={"source": "CaseComment", "case_id": comment.get("ParentId")})


def survey_interaction(response: Mapping[str, Any], answers: Iterable[Mapping[str, Any]],
                       questions: Mapping[str, Mapping[str, Any]], contact_id: str) -> Interaction:
    texts: list[str] = []
    metadata: dict[str, Any] = {"source": "SurveyResponse"}
    for answer in answers:
        question = questions.get(str(answer.get("QuestionId") or "")[:15], {})
        if answer.get("NumberValue") is not None:
            key = "nps" if (question.get("QuestionType") or "").lower() == "nps" else "score"
            metadata[key] = answer["NumberValue"]
        if answer.get("ResponseValue"):
            texts.append(str(answer["ResponseValue"]))
    return Interaction(id=response["Id"], contact_id=contact_id, kind="survey", direction="inbound",
                       author="customer", occurred_at=_when(response, "CompletionDateTime", "CreatedDate"),
                       subject=response.get("Name") or "", body=_text(*texts), metadata=metadata)


def opportunity_deal(opportunity: Mapping[str, Any], contact_id: str,
                     type_map: Mapping[str, str] | None = None) -> Deal:
    if opportunity.get("IsWon"):
        stage = "closedwon"
    elif opportunity.get("IsClosed"):
        stage = "closedlost"
    else:
        stage = STAGES.get((opportunity.get("StageName") or "").lower(), "qualifiedtobuy")
    return Deal(id=opportunity["Id"], contact_id=contact_id, stage=stage,
                type=deal_type(opportunity.get("Type"), type_map), name=opportunity.get("Name") or "",
                amount=float(opportunity["Amount"]) if opportunity.get("Amount") is not None else None,
                created=parse_datetime(opportunity.get("CreatedDate")),
                close_date=parse_date(opportunity.get("CloseDate")))


def deal_type(value: Any, type_map: Mapping[str, str] | None = None) -> str:
    text = str(value or "").strip()
    if type_map and text in type_map:
        return type_map[text]
    lowered = text.lower()
    if lowered in TYPES:
        return TYPES[lowered]
    if "renew" in lowered:
        return "renewal"
    if any(word in lowered for word in ("upsell", "upgrade", "cross", "expansion", "add-on")):
        return "upsell"
    return "new_business"


# -- CEM values ---------------------------------------------------------------------------------
def to_salesforce(spec: FieldSpec, value: Any) -> Any:
    """A platform-neutral CEM value as the JSON Salesforce takes for the field (None clears it)."""
    value = coerce(spec, value)
    if value is None:
        return None
    if spec.type == "datetime":
        return to_iso_z(value) if isinstance(value, datetime) else str(value)
    return value


def from_salesforce(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    if spec.type == "datetime":
        return parse_datetime(value)
    if spec.type == "number":
        number = float(value)
        return int(number) if spec.scale == 0 else number
    return value


def field_metadata(spec: FieldSpec) -> dict[str, Any]:
    """The Tooling API ``CustomField.Metadata`` for a CEM field (CustomFieldMetadata keys)."""
    metadata: dict[str, Any] = {"label": spec.label, "description": spec.description,
                                "inlineHelpText": spec.description[:510], "required": False}
    if spec.type == "picklist":
        metadata.update(type="Picklist", valueSet={"restricted": True, "valueSetDefinition": {
            "sorted": False,
            "value": [{"fullName": option, "label": spec.option_label(option), "default": False}
                      for option in spec.options]}})
    elif spec.type == "number":
        bound = max(abs(spec.minimum or 0), abs(spec.maximum or 0))
        digits = len(str(int(bound))) if bound else 3
        metadata.update(type="Number", precision=digits + spec.scale, scale=spec.scale)
    elif spec.type == "longtext":
        metadata.update(type="LongTextArea", length=spec.max_length or 32000, visibleLines=5)
    else:
        metadata.update(type="DateTime")
    return metadata
