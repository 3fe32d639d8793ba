"""The in-memory org behind the Salesforce sandbox: schema, records, ids, field-level security.

Records are stored with canonical (case-correct) field names and Salesforce value formats:
datetimes as ``2026-09-12T10:00:00.000+0000``, dates as ``2026-09-12``, ids as 18 characters.
Custom fields only exist once created through the Tooling API, and only users holding a
permission set with the matching FieldPermissions can read or edit them (as in a real org,
where a field created through the API is invisible until field-level security is granted).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .soql import SoqlError, execute, parse

SYSTEM_FIELDS = ("Id", "CreatedDate", "LastModifiedDate", "CreatedById", "LastModifiedById", "SystemModstamp")

# object -> (key prefix, standard fields besides the system ones)
STANDARD_OBJECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Organization": ("00D", ("Name", "IsSandbox", "OrganizationType", "InstanceName")),
    "User": ("005", ("Username", "Name", "Email", "UserType", "IsActive")),
    "Account": ("001", ("Name",)),
    "Contact": ("003", ("FirstName", "LastName", "Name", "Email", "AccountId", "Title", "Phone", "OwnerId")),
    "Lead": ("00Q", ("FirstName", "LastName", "Name", "Email", "Company", "Status", "IsConverted", "OwnerId")),
    "Task": ("00T", ("WhoId", "WhatId", "Subject", "Description", "Status", "TaskSubtype", "Type", "CallType",
                     "CallDurationInSeconds", "CallDisposition", "ActivityDate", "OwnerId")),
    "EmailMessage": ("02s", ("Subject", "TextBody", "HtmlBody", "FromAddress", "FromName", "ToAddress", "Incoming",
                             "MessageDate", "ParentId", "RelatedToId", "Status")),
    "EmailMessageRelation": ("0Ea", ("EmailMessageId", "RelationId", "RelationType", "RelationAddress",
                                     "RelationObjectType")),
    "Case": ("500", ("ContactId", "AccountId", "CaseNumber", "Subject", "Description", "Status", "Origin",
                     "Priority", "IsClosed", "ClosedDate")),
    "CaseComment": ("00a", ("ParentId", "CommentBody", "IsPublished")),
    "Opportunity": ("006", ("Name", "StageName", "IsClosed", "IsWon", "CloseDate", "Amount", "Type", "AccountId")),
    "OpportunityContactRole": ("00K", ("OpportunityId", "ContactId", "Role", "IsPrimary")),
    "SurveyResponse": ("0Kf", ("SubmitterId", "Status", "CompletionDateTime", "SurveyId", "Name")),
    "SurveyQuestion": ("0Kq", ("Name", "QuestionType", "SurveyVersionId")),
    "SurveyQuestionResponse": ("0Kr", ("ResponseId", "QuestionId", "ResponseValue", "NumberValue", "Datatype")),
    "PermissionSet": ("0PS", ("Name", "Label", "Description", "IsOwnedByProfile")),
    "FieldPermissions": ("01k", ("ParentId", "SobjectType", "Field", "PermissionsRead", "PermissionsEdit")),
    "PermissionSetAssignment": ("0Pa", ("AssigneeId", "PermissionSetId")),
}
# Lookup fields with one target object: (object, field) -> parent object. Their relationship name is the
# field name without "Id" (ParentId -> Parent), as for standard objects in Salesforce. Polymorphic
# references (Task.WhoId, EmailMessageRelation.RelationId, SurveyResponse.SubmitterId ...) are left out:
# traversing them takes TYPEOF, which this sandbox does not interpret.
PARENT_OBJECTS: dict[tuple[str, str], str] = {
    ("Contact", "AccountId"): "Account", ("Case", "ContactId"): "Contact", ("Case", "AccountId"): "Account",
    ("CaseComment", "ParentId"): "Case", ("EmailMessage", "ParentId"): "Case",
    ("EmailMessageRelation", "EmailMessageId"): "EmailMessage", ("Opportunity", "AccountId"): "Account",
    ("OpportunityContactRole", "OpportunityId"): "Opportunity", ("OpportunityContactRole", "ContactId"): "Contact",
    ("SurveyQuestionResponse", "ResponseId"): "SurveyResponse",
    ("SurveyQuestionResponse", "QuestionId"): "SurveyQuestion",
    ("FieldPermissions", "ParentId"): "PermissionSet", ("PermissionSetAssignment", "PermissionSetId"): "PermissionSet",
    ("PermissionSetAssignment", "AssigneeId"): "User",
    # Lead.OwnerId may also name a queue (Group); Owner.Name reads the same on both, and the sandbox's owners are users
    ("Contact", "OwnerId"): "User", ("Lead", "OwnerId"): "User",
}
USER_REFERENCES = ("CreatedById", "LastModifiedById")  # every object's, all pointing at User
MAX_RELATIONSHIP_LEVELS = 5  # "no more than five levels can be specified in a child-to-parent relationship"


def parent_object(sobject: str, reference: str) -> str | None:
    if reference in USER_REFERENCES:
        return "User"
    return PARENT_OBJECTS.get((sobject, reference))


# Read-only fields the API rejects on create/update (INVALID_FIELD_FOR_INSERT_UPDATE).
READ_ONLY = {"Id", "CreatedDate", "LastModifiedDate", "CreatedById", "LastModifiedById", "SystemModstamp",
             "CaseNumber", "IsClosed", "IsWon"}
COMPUTED_NAME = {"Contact", "Lead"}  # Name is compound (FirstName + LastName) there


def is_read_only(sobject: str, name: str) -> bool:
    return name in READ_ONLY or (name == "Name" and sobject in COMPUTED_NAME)
TOOLING_CUSTOM_FIELD_PREFIX = "00N"
CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sf_datetime(value: datetime | None = None) -> str:
    moment = (value or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def to18(id15: str) -> str:
    """Salesforce's case-safe 18-character form of a 15-character id."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += CHECKSUM_ALPHABET[bits]
    return id15 + suffix


class SalesforceApiError(Exception):
    """An error the REST layer turns into ``[{"errorCode", "message"}]`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"errorCode": self.code, "message": self.message}
        if self.fields:
            item["fields"] = self.fields
        return [item]


@dataclass
class CustomFieldDef:
    id: str
    sobject: str
    developer_name: str  # without __c
    metadata: dict[str, Any]
    created: str = field(default_factory=sf_datetime)

    @property
    def api_name(self) -> str:
        return f"{self.developer_name}__c"

    @property
    def full_name(self) -> str:
        return f"{self.sobject}.{self.api_name}"


class OrgStore:
    """One org's data, thread-safe (the sandbox server is threaded)."""

    def __init__(self, org_id15: str = "00D8d0000000001", org_name: str = "CEM Sandbox Org") -> None:
        self.lock = threading.RLock()
        self._counter = itertools.count(1)
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in STANDARD_OBJECTS}
        self.custom_fields: dict[str, CustomFieldDef] = {}  # id -> definition
        self.org_id = to18(org_id15)
        self.insert("Organization", {"Name": org_name, "IsSandbox": False, "OrganizationType": "Enterprise Edition",
                                     "InstanceName": "CEM1"}, user_id=None, forced_id=self.org_id)
        self.admin_id = self.insert("User", {"Username": "admin@cem-sandbox.example", "Name": "Sandbox Admin",
                                             "Email": "admin@cem-sandbox.example", "UserType": "Standard",
                                             "IsActive": True}, user_id=None)
        self.integration_user_id = self.insert(
            "User", {"Username": "cem-integration@cem-sandbox.example", "Name": "CEM Integration",
                     "Email": "cem-integration@cem-sandbox.example", "UserType": "Standard", "IsActive": True},
            user_id=None)
        self.portal_user_id = self.insert(
            "User", {"Username": "portal@customer.example", "Name": "Customer Portal User",
                     "Email": "portal@customer.example", "UserType": "PowerCustomerSuccess", "IsActive": True},
            user_id=None)

    # -- ids and schema -------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return to18(f"{prefix}8d{next(self._counter):010d}")

    def object_for_id(self, record_id: str) -> str | None:
        prefix = record_id[:3]
        for name, (key_prefix, _) in STANDARD_OBJECTS.items():
            if key_prefix == prefix:
                return name
        return None

    def canonical_object(self, name: str) -> str:
        for known in STANDARD_OBJECTS:
            if known.lower() == name.lower():
                return known
        raise SalesforceApiError(400 if name else 404, "INVALID_TYPE",
                                 f"sObject type '{name}' is not supported.")

    def custom_fields_of(self, sobject: str) -> list[CustomFieldDef]:
        return [f for f in self.custom_fields.values() if f.sobject == sobject]

    def field_names(self, sobject: str) -> list[str]:
        _, standard = STANDARD_OBJECTS[sobject]
        return [*SYSTEM_FIELDS, *standard, *(f.api_name for f in self.custom_fields_of(sobject))]

    def custom_field(self, sobject: str, api_name: str) -> CustomFieldDef | None:
        for definition in self.custom_fields_of(sobject):
            if definition.api_name.lower() == api_name.lower():
                return definition
        return None

    def can_access(self, user_id: str | None, sobject: str, api_name: str, *, edit: bool) -> bool:
        """Field-level security for custom fields, granted only through permission sets."""
        if user_id is None or not api_name.endswith("__c"):
            return True
        wanted = f"{sobject}.{api_name}".lower()
        sets = {a["PermissionSetId"][:15] for a in self.records["PermissionSetAssignment"].values()
                if a["AssigneeId"][:15] == user_id[:15]}
        for permission in self.records["FieldPermissions"].values():
            granted = permission.get("PermissionsEdit") if edit else permission.get("PermissionsRead")
            if permission["ParentId"][:15] in sets and str(permission["Field"]).lower() == wanted and granted:
                return True
        return False

    def resolver(self, sobject: str, user_id: str | None, *, edit: bool = False) -> Any:
        """Field name -> canonical name; ``Rel.Field`` paths follow lookups (queries only, not edits)."""

        def own(on: str, name: str) -> str:
            canonical = {n.lower(): n for n in self.field_names(on)}.get(name.lower())
            if canonical is None or not self.can_access(user_id, on, canonical, edit=edit):
                raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{on}'. If you are "
                                "attempting to use a custom field, be sure to append the '__c' after the custom "
                                "field name. Please reference your WSDL or the describe call for the appropriate "
                                "names.")
            return canonical

        def resolve(name: str) -> str:
            path = name.split(".")
            if len(path) == 1:
                return own(sobject, name)
            if edit or len(path) - 1 > MAX_RELATIONSHIP_LEVELS:
                raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")
            on, parts = sobject, []
            for relationship in path[:-1]:
                reference = {n.lower(): n for n in self.field_names(on)}.get(relationship.lower() + "id")
                parent = parent_object(on, reference) if reference else None
                if reference is None or parent is None:
                    raise SoqlError("INVALID_FIELD", f"Didn't understand relationship '{relationship}' in field "
                                    f"path. If you are attempting to use a custom relationship, be sure to append "
                                    f"the '__r' after the custom relationship name.")
                parts.append(reference[:-2])
                on = parent
            return ".".join([*parts, own(on, path[-1])])
        return resolve

    def lookup(self, sobject: str) -> Any:
        """Reads a canonical (maybe dotted) field of a record, following lookups to parent records."""

        def value(record: Any, name: str) -> Any:
            on, current = sobject, record
            *relationships, last = name.split(".")
            for relationship in relationships:
                parent = parent_object(on, relationship + "Id")
                current = self.get(parent, str(current.get(relationship + "Id") or "")) if parent else None
                if current is None:
                    return None
                on = parent  # type: ignore[assignment]
            if last == "attributes":
                return {"type": on, "url": f"/sobjects/{on}/{current.get('Id')}"}
            return current.get(last)
        return value

    # -- records ----------------------------------------------------------------------------
    def insert(self, sobject: str, values: Mapping[str, Any], *, user_id: str | None,
               forced_id: str | None = None, created: str | None = None) -> str:
        with self.lock:
            prefix, _ = STANDARD_OBJECTS[sobject]
            record_id = forced_id or self.new_id(prefix)
            stamp = created or sf_datetime()
            actor = user_id or getattr(self, "admin_id", None)
            record: dict[str, Any] = {name: None for name in self.field_names(sobject)}
            record.update({"Id": record_id, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp,
                           "CreatedById": actor, "LastModifiedById": actor})
            if "OwnerId" in record:
                record["OwnerId"] = actor  # the creating user owns a new record unless told otherwise
            record.update(values)
            self._derive(sobject, record)
            self.records[sobject][record_id] = record
            return record_id

    def update(self, sobject: str, record_id: str, values: Mapping[str, Any], *, user_id: str | None) -> None:
        with self.lock:
            record = self.get(sobject, record_id)
            if record is None:
                raise SalesforceApiError(404, "ENTITY_IS_DELETED" if record_id else "MALFORMED_ID",
                                         "entity is deleted" if record_id else "malformed id")
            record.update(values)
            stamp = sf_datetime()
            record.update({"LastModifiedDate": stamp, "SystemModstamp": stamp,
                           "LastModifiedById": user_id or self.admin_id})
            self._derive(sobject, record)

    def delete(self, sobject: str, record_id: str) -> None:
        with self.lock:
            record = self.get(sobject, record_id)
            if record is not None:
                del self.records[sobject][record["Id"]]

    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        if not record_id or len(record_id) not in (15, 18):
            return None
        for stored_id, record in self.records[sobject].items():
            if stored_id[:15] == record_id[:15]:
                return record
        return None

    def _derive(self, sobject: str, record: dict[str, Any]) -> None:
        """Formula-like standard fields Salesforce computes itself."""
        if sobject in ("Contact", "Lead"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
        if sobject == "Case":
            record["CaseNumber"] = record.get("CaseNumber") or f"{len(self.records['Case']) + 1:08d}"
            record["IsClosed"] = record.get("Status") == "Closed"
        if sobject == "Opportunity":
            stage = record.get("StageName") or ""
            record["IsClosed"] = stage in ("Closed Won", "Closed Lost")
            record["IsWon"] = stage == "Closed Won"

    def query(self, soql: str, user_id: str | None) -> list[dict[str, Any]]:
        parsed = parse(soql)
        sobject = self.canonical_object(parsed.sobject)
        with self.lock:
            rows = list(self.records[sobject].values())
            result = execute(parsed, rows, self.resolver(sobject, user_id), self.lookup(sobject))
        for row in result:
            row["attributes"] = {"type": sobject, "url": f"/sobjects/{sobject}/{row.get('Id')}"}
        return result
