"""`cem-connector install salesforce`: CEM fields, a permission set, its assignments. Idempotent.

Why the Tooling API and not the Metadata API: simple-salesforce's ``mdapi`` is SOAP through
zeep against the bundled WSDL, and every object it creates is a CustomField metadata
component; the Tooling API's ``CustomField`` sObject carries the very same CustomFieldMetadata
(label, type, precision, scale, length, visibleLines, valueSet) as JSON over REST, supports
query/GET/POST/PATCH, and so lets one code path read, diff, create and update a field and
report exactly what changed (developer.salesforce.com Tooling API reference, "CustomField":
"Supported REST HTTP Methods: Query, GET, POST, PATCH"; fields DeveloperName, FullName,
Metadata, TableEnumOrId). FullName/Metadata can only be selected for one row at a time, so
existing fields are listed by DeveloperName and then read one by one.

Field-level security: a field created through the API is visible to nobody until granted.
We create a permission set ``CEM_Connector`` with FieldPermissions (read + edit) for each
CEM field through the ordinary REST sObject API and assign it to the integration user plus
the users named in ``permission_set_assignees`` (ids or usernames).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..base import ProvisionReport, chunked
from ..errors import ConfigurationError, InvalidRequest
from ..fields import FieldSpec
from .client import SalesforceClient
from .consts import COLLECTION_LIMIT, PLATFORM
from .mapping import field_metadata, native_name

PERMISSION_SET = "CEM_Connector"
PERMISSION_SET_LABEL = "CEM Connector"
COMPARED_KEYS = ("label", "type", "description", "precision", "scale", "length", "visibleLines")
ID_PATTERN = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def soql_quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def soql_id(value: str) -> str:
    if not ID_PATTERN.match(str(value)):
        raise InvalidRequest(f"'{value}' is not a Salesforce record id.", platform=PLATFORM)
    return f"'{value}'"


def metadata_differs(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """The CustomFieldMetadata keys whose value differs (picklists compare their values and labels)."""
    changed = [key for key in COMPARED_KEYS if key in desired and current.get(key) != desired[key]]
    if "valueSet" in desired:
        def values(meta: Mapping[str, Any]) -> tuple[bool, list[tuple[str, str]]]:
            value_set = meta.get("valueSet") or {}
            entries = (value_set.get("valueSetDefinition") or {}).get("value") or []
            return bool(value_set.get("restricted")), [(v.get("fullName"), v.get("label")) for v in entries]
        if values(current) != values(desired):
            changed.append("valueSet")
    return changed


def added_values(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """Picklist values ``desired`` lists that the org's field does not have yet."""
    have = {v.get("fullName") for v in _picklist_values(current)}
    return [str(v["fullName"]) for v in _picklist_values(desired) if v.get("fullName") not in have]


def keep_existing_values(current: Mapping[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """``desired`` with the org's picklist values it no longer lists appended: records may hold them."""
    if "valueSet" not in desired:
        return desired
    wanted = {v.get("fullName") for v in _picklist_values(desired)}
    kept = [v for v in _picklist_values(current) if v.get("fullName") not in wanted]
    if not kept:
        return desired
    definition = dict(desired["valueSet"]["valueSetDefinition"], value=[*_picklist_values(desired), *kept])
    return {**desired, "valueSet": {**desired["valueSet"], "valueSetDefinition": definition}}


def _picklist_values(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(((meta.get("valueSet") or {}).get("valueSetDefinition") or {}).get("value") or [])


@dataclass
class Installer:
    client: SalesforceClient
    fields: Sequence[FieldSpec]
    objects: Sequence[str]
    assignees: Sequence[str]

    def run(self, *, dry_run: bool) -> ProvisionReport:
        report = ProvisionReport(dry_run=dry_run)
        users = self._resolve_users()  # validate before changing anything
        for sobject in self.objects:
            self._fields(sobject, report, dry_run)
        permission_set = self._permission_set(report, dry_run)
        self._field_permissions(permission_set, report, dry_run)
        self._assignments(permission_set, users, report, dry_run)
        return report

    # -- fields ---------------------------------------------------------------------------------
    def _fields(self, sobject: str, report: ProvisionReport, dry_run: bool) -> None:
        existing = {row["DeveloperName"].lower(): row["Id"] for row in self.client.query(
            f"SELECT Id, DeveloperName FROM CustomField WHERE TableEnumOrId = {soql_quote(sobject)}", tooling=True)}
        for spec in self.fields:
            api_name = native_name(spec)
            full_name = f"{sobject}.{api_name}"
            desired = field_metadata(spec)
            field_id = existing.get(api_name[:-3].lower())
            if field_id is None:
                if not dry_run:
                    self._save(self.client.tooling("sobjects/CustomField", method="POST",
                                                   data={"FullName": full_name, "Metadata": desired},
                                                   describe=f"create field {full_name}"), full_name)
                report.add("create", f"field {full_name}", f"{desired['type']}")
                continue
            current = self.client.tooling(f"sobjects/CustomField/{field_id}", describe=f"read field {full_name}")
            desired = keep_existing_values(current.get("Metadata") or {}, desired)
            changed = metadata_differs(current.get("Metadata") or {}, desired)
            if not changed:
                report.add("unchanged", f"field {full_name}")
                continue
            if not dry_run:
                self.client.tooling(f"sobjects/CustomField/{field_id}", method="PATCH",
                                    data={"FullName": full_name, "Metadata": {**(current.get("Metadata") or {}),
                                                                              **desired}},
                                    describe=f"update field {full_name}")
            added = added_values(current.get("Metadata") or {}, desired)
            report.add("update", f"field {full_name}", "changed: " + ", ".join(changed)
                       + (f" (add values: {', '.join(added)})" if added else ""))

    @staticmethod
    def _save(result: Any, what: str) -> None:
        if isinstance(result, dict) and result.get("success") is False:
            raise InvalidRequest(f"Salesforce did not save {what}: {result.get('errors')}", platform=PLATFORM)

    # -- permission set ---------------------------------------------------------------------------
    def _permission_set(self, report: ProvisionReport, dry_run: bool) -> str | None:
        rows = self.client.query(f"SELECT Id, Name FROM PermissionSet WHERE Name = {soql_quote(PERMISSION_SET)}")
        if rows:
            report.add("unchanged", f"permission set {PERMISSION_SET}")
            return str(rows[0]["Id"])
        report.add("create", f"permission set {PERMISSION_SET}", "grants read/edit on every CEM field")
        if dry_run:
            return None
        created = self.client.rest("sobjects/PermissionSet", method="POST", json={
            "Name": PERMISSION_SET, "Label": PERMISSION_SET_LABEL,
            "Description": "Lets the CEM connector and reps read the Customer Experience Mapping fields."},
            describe="create permission set")
        return str(created["id"])

    def _field_permissions(self, permission_set: str | None, report: ProvisionReport, dry_run: bool) -> None:
        current: dict[str, dict[str, Any]] = {}
        if permission_set:
            for row in self.client.query("SELECT Id, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions "
                                         f"WHERE ParentId = {soql_id(permission_set)}"):
                current[str(row["Field"]).lower()] = row
        creates, updates = [], []
        for sobject in self.objects:
            for spec in self.fields:
                field = f"{sobject}.{native_name(spec)}"
                row = current.get(field.lower())
                if row is None:
                    creates.append({"attributes": {"type": "FieldPermissions"}, "ParentId": permission_set,
                                    "SobjectType": sobject, "Field": field, "PermissionsRead": True,
                                    "PermissionsEdit": True})
                    report.add("create", f"field permission {field}", "read + edit")
                elif not (row.get("PermissionsRead") and row.get("PermissionsEdit")):
                    updates.append({"attributes": {"type": "FieldPermissions"}, "id": row["Id"],
                                    "PermissionsRead": True, "PermissionsEdit": True})
                    report.add("update", f"field permission {field}", "read + edit")
                else:
                    report.add("unchanged", f"field permission {field}")
        if dry_run:
            return
        for method, records in (("POST", creates), ("PATCH", updates)):
            for chunk in chunked(records, COLLECTION_LIMIT):
                results = self.client.rest("composite/sobjects", method=method,
                                           json={"allOrNone": True, "records": list(chunk)},
                                           describe="save field permissions")
                failed = [r for r in results or [] if not r.get("success")]
                if failed:
                    raise InvalidRequest(f"Salesforce refused field permissions: {failed[0].get('errors')}",
                                         platform=PLATFORM)

    # -- assignments ------------------------------------------------------------------------------
    def _resolve_users(self) -> dict[str, str]:
        """Assignee (id or username) -> user id; unknown usernames stop the install before any change."""
        resolved: dict[str, str] = {}
        usernames = []
        for assignee in self.assignees:
            if ID_PATTERN.match(assignee) and assignee.startswith("005"):
                resolved[assignee] = assignee
            else:
                usernames.append(assignee)
        if usernames:
            quoted = ", ".join(soql_quote(name) for name in usernames)
            rows = self.client.query(f"SELECT Id, Username FROM User WHERE Username IN ({quoted}) AND IsActive = true")
            found = {str(row["Username"]).lower(): str(row["Id"]) for row in rows}
            missing = [name for name in usernames if name.lower() not in found]
            if missing:
                raise ConfigurationError(f"No active Salesforce user with username {', '.join(missing)}; fix "
                                         "'permission_set_assignees'.", platform=PLATFORM)
            resolved.update({name: found[name.lower()] for name in usernames})
        return resolved

    def _assignments(self, permission_set: str | None, users: Mapping[str, str], report: ProvisionReport,
                     dry_run: bool) -> None:
        assigned: set[str] = set()
        if permission_set:
            rows = self.client.query("SELECT Id, AssigneeId FROM PermissionSetAssignment "
                                     f"WHERE PermissionSetId = {soql_id(permission_set)}")
            assigned = {str(row["AssigneeId"])[:15] for row in rows}
        for label, user_id in users.items():
            if user_id[:15] in assigned:
                report.add("unchanged", f"permission set assignment to {label}")
                continue
            assigned.add(user_id[:15])
            report.add("assign", f"permission set {PERMISSION_SET} to {label}")
            if not dry_run:
                self.client.rest("sobjects/PermissionSetAssignment", method="POST",
                                 json={"AssigneeId": user_id, "PermissionSetId": permission_set},
                                 describe=f"assign permission set to {label}")
