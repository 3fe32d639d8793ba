"""The Salesforce adapter: reads interactions with SOQL, writes CEM fields with sObject Collections.

Connection settings (non-secret): ``auth`` (jwt | password | session), ``username``,
``login_url`` (default https://login.salesforce.com, or https://test.salesforce.com with
``sandbox: true``; a My Domain URL also works), ``instance_url`` (session mode),
``api_version`` (default 59.0), ``org_id``, ``objects`` (["Contact"] or ["Contact", "Lead"]),
``integration_user_id`` (learnt by ``check_connection``), ``daily_api_budget`` (number or
"NN%", default 80 % of the org's allocation), ``permission_set_assignees``,
``opportunity_type_map``, ``lifecycle_field`` / ``renewal_date_field`` (optional Contact fields).
Credentials (secret): ``consumer_key`` + ``private_key`` (jwt), ``password`` +
``security_token`` (password), ``access_token`` (session).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

import requests

from cem_engine.model import ContactInput

from ..base import ConnectionInfo, ContactPage, CRMAdapter, FieldUpdate, ProvisionReport, WriteResult, chunked
from ..errors import (
    ConfigurationError,
    InvalidRequest,
    NotFound,
)
from ..fields import FieldSpec, to_iso_z
from ..ids import salesforce_id18
from . import links
from .client import SalesforceClient, budget_ceiling
from .consts import COLLECTION_LIMIT, INTEGRATION_USER_SETTING, OBJECT_PREFIXES, PLATFORM
from .install import ID_PATTERN, Installer, soql_id
from .mapping import from_salesforce, native_name
from .read import ContactReader
from .write import FieldWriter

# What changed since a reconcile's cursor, and the path to the contact (or lead) id in each row.
CHANGED_INTERACTION_QUERIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SELECT WhoId FROM Task WHERE LastModifiedDate > {since} AND WhoId != null", ("WhoId",)),
    ("SELECT ContactId FROM Case WHERE LastModifiedDate > {since} AND ContactId != null", ("ContactId",)),
    ("SELECT RelationId FROM EmailMessageRelation WHERE EmailMessage.LastModifiedDate > {since}", ("RelationId",)),
    ("SELECT Parent.ContactId FROM EmailMessage WHERE LastModifiedDate > {since} AND ParentId != null",
     ("Parent", "ContactId")),
    ("SELECT Parent.ContactId FROM CaseComment WHERE LastModifiedDate > {since}", ("Parent", "ContactId")),
    ("SELECT ContactId FROM OpportunityContactRole WHERE LastModifiedDate > {since} "
     "OR Opportunity.LastModifiedDate > {since}", ("ContactId",)),
    ("SELECT SubmitterId FROM SurveyResponse WHERE LastModifiedDate > {since}", ("SubmitterId",)),
)
IN_CHUNK = 200  # ids per IN (...) clause keeps the query URL well under Salesforce's 16 KB limit


def _in(ids: Iterable[str]) -> str:
    return "(" + ", ".join(soql_id(i) for i in ids) + ")"


class SalesforceAdapter(CRMAdapter):
    platform = PLATFORM
    label = "Salesforce"
    write_batch_size: ClassVar[int] = COLLECTION_LIMIT
    # One SOQL query per source whatever the batch holds, as long as the IN list fits the URL
    # (read.MAX_QUERY_URL: ~450 ids); 200 matches the write batch, so one refresh is one write call.
    read_batch_size: ClassVar[int] = 200
    remembered_facts = (INTEGRATION_USER_SETTING,)  # the receiver drops changes made by this user
    # Classic URLs and reports show 15-character ids; the API (and so the connector) uses 18.
    contact_id_form = staticmethod(salesforce_id18)
    setting_keys = ("api_version", "auth", "daily_api_budget", "domain", "instance_url", "lifecycle_field", "login_url",
                    "objects", "opportunity_type_map", "org_id", "permission_set_assignees", "renewal_date_field",
                    "sandbox", "username")  # what `connect --setting` accepts
    # INVALID_FIELD: "No such column 'CEM_X__c' on sobject of type Contact"
    missing_field_pattern = re.compile(r"No such column '(\w+)'")
    frame_ancestors = links.FRAME_ANCESTORS  # CRM pages allowed to embed the rep's journey map
    record_url = staticmethod(links.record_url)

    def __init__(self, connection: ConnectionInfo, *, http: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(connection)
        self.client = SalesforceClient(connection, http)
        self.writer = FieldWriter(self.client, sleep)
        objects = list(connection.settings.get("objects") or ["Contact"])
        unknown = [o for o in objects if o not in OBJECT_PREFIXES.values()]
        if unknown or "Contact" not in objects:
            raise ConfigurationError(f"Setting 'objects' may list Contact and Lead only, and must include Contact "
                                     f"(got {objects}).", platform=PLATFORM)
        self.objects = objects
        self.reader = ContactReader(self.client, connection.settings)

    def native_field_name(self, spec: FieldSpec) -> str:
        return native_name(spec)

    # -- lifecycle ------------------------------------------------------------------------------
    def identity(self) -> tuple[str, str]:
        """(org id, user id) of the session: from the login answer, else from the userinfo endpoint."""
        self.client.sf()
        session = self.client.session
        assert session is not None
        if session.org_id and session.user_id:
            return session.org_id, session.user_id
        info = self.client.run(lambda sf: sf.oauth2("userinfo"), "read the connected user (userinfo)")
        return str(info["organization_id"]), str(info["user_id"])

    def check_connection(self) -> dict[str, Any]:
        org_id, user_id = self.identity()
        expected = self.connection.settings.get("org_id")
        if expected and str(expected)[:15] != org_id[:15]:
            raise ConfigurationError(f"These credentials log in to org {org_id}, but the connection is set up for "
                                     f"org {expected}. Use the right credentials or fix 'org_id'.", platform=PLATFORM)
        org = self.client.query("SELECT Id, Name, IsSandbox, OrganizationType FROM Organization")
        user = self.client.query(f"SELECT Id, Username, Name FROM User WHERE Id = {soql_id(user_id)}")
        usage = self.api_usage()
        return {
            "account_id": org_id, "org_id": org_id, "name": org[0].get("Name") if org else None,
            "is_sandbox": bool(org[0].get("IsSandbox")) if org else None,
            "edition": org[0].get("OrganizationType") if org else None,
            "integration_user_id": user_id, "username": user[0].get("Username") if user else None,
            "instance_url": self.client.session.instance_url if self.client.session else None,
            "api_usage": usage,
        }

    def provision(self, *, dry_run: bool = False) -> ProvisionReport:
        _, user_id = self.identity()
        extra = self.connection.settings.get("permission_set_assignees") or []
        assignees = [user_id, *(str(a) for a in extra if str(a)[:15] != user_id[:15])]
        return Installer(self.client, list(self.fields), self.objects, assignees).run(dry_run=dry_run)

    # -- reading ----------------------------------------------------------------------------------
    def _sobject_of(self, record_id: str) -> str:
        sobject = OBJECT_PREFIXES.get(str(record_id)[:3])
        if sobject is None or sobject not in self.objects or not ID_PATTERN.match(str(record_id)):
            raise NotFound(f"'{record_id}' is not a {' or '.join(self.objects)} id.", platform=PLATFORM)
        return sobject

    def fetch_contact(self, contact_id: str) -> ContactInput:
        sobject = self._sobject_of(contact_id)
        found = self.fetch_contacts([contact_id])
        if contact_id not in found:
            raise NotFound(f"{sobject} {contact_id} does not exist (deleted or merged).", platform=PLATFORM)
        return found[contact_id]

    def fetch_contacts(self, contact_ids: Sequence[str]) -> dict[str, ContactInput]:
        """Batch reads (``read``): about nine queries for the whole batch instead of ~10 per
        contact. Ids that are not Contacts/Leads of this connection, or no longer exist, are left out."""
        by_object: dict[str, list[str]] = {}
        for contact_id in dict.fromkeys(str(i) for i in contact_ids):
            try:
                by_object.setdefault(self._sobject_of(contact_id), []).append(contact_id)
            except NotFound:
                continue
        return self.reader.read(by_object)

    def contacts_for(self, object_type: str, object_id: str) -> list[str]:
        prefix = str(object_id)[:3]
        quoted = soql_id(object_id)
        if prefix in OBJECT_PREFIXES:
            return [object_id] if OBJECT_PREFIXES[prefix] in self.objects else []
        if prefix == "00T":
            ids = [r["WhoId"] for r in self.client.query(f"SELECT WhoId FROM Task WHERE Id = {quoted}")]
        elif prefix == "02s":
            ids = [r["RelationId"] for r in self.client.query(
                f"SELECT RelationId FROM EmailMessageRelation WHERE EmailMessageId = {quoted}")]
            parents = [r["ParentId"] for r in self.client.query(
                f"SELECT ParentId FROM EmailMessage WHERE Id = {quoted}") if r.get("ParentId")]
            ids += [r["ContactId"] for r in self.client.query(f"SELECT ContactId FROM Case WHERE Id IN {_in(parents)}")
                    ] if parents else []
        elif prefix == "500":
            ids = [r["ContactId"] for r in self.client.query(f"SELECT ContactId FROM Case WHERE Id = {quoted}")]
        elif prefix == "00a":
            parents = [r["ParentId"] for r in self.client.query(
                f"SELECT ParentId FROM CaseComment WHERE Id = {quoted}")]
            ids = [r["ContactId"] for r in self.client.query(
                f"SELECT ContactId FROM Case WHERE Id IN {_in(parents)}")] if parents else []
        elif prefix == "006":
            ids = [r["ContactId"] for r in self.client.query(
                f"SELECT ContactId FROM OpportunityContactRole WHERE OpportunityId = {quoted}")]
        elif prefix == "00K":
            ids = [r["ContactId"] for r in self.client.query(
                f"SELECT ContactId FROM OpportunityContactRole WHERE Id = {quoted}")]
        elif object_type == "survey":
            ids = [r["SubmitterId"] for r in self.client.query(f"SELECT SubmitterId FROM SurveyResponse WHERE Id = "
                                                               f"{quoted}")]
        else:
            return []
        wanted = {p for p, name in OBJECT_PREFIXES.items() if name in self.objects}
        return sorted({i for i in ids if i and str(i)[:3] in wanted})

    def contacts_with_changed_interactions(self, since: datetime) -> list[str]:
        """Contacts and leads whose tasks, emails, cases, case comments, opportunities or survey responses
        changed since ``since`` (LastModifiedDate, whoever made the change): one query per source."""
        stamp = to_iso_z(since)
        found: list[str] = []
        for soql, path in CHANGED_INTERACTION_QUERIES:
            try:
                rows = self.client.query(soql.format(since=stamp))
            except InvalidRequest as error:
                if getattr(error, "sf_code", "") == "INVALID_TYPE":  # e.g. Surveys not enabled in this org
                    continue
                raise
            for row in rows:
                value: Any = row
                for part in path:
                    value = (value or {}).get(part)
                if value:
                    found.append(str(value))
        wanted = {p for p, name in OBJECT_PREFIXES.items() if name in self.objects}
        return sorted({i for i in found if i[:3] in wanted})

    def list_contacts(self, cursor: str | None = None, *, modified_since: datetime | None = None,
                      page_size: int = 100) -> ContactPage:
        """Contacts (then Leads when configured) in Id order; the cursor is ``<Object>:<last id>``.

        With ``modified_since``, every change counts, the integration user's included: a rep's edit
        whose webhook was lost and that our CEM write then covered (LastModifiedById = us) must not be
        skipped. Re-reading the contacts we wrote costs one batch read and writes nothing (the ledger)."""
        size = max(1, min(int(page_size), 2000))
        sobject, _, last_id = (cursor or f"{self.objects[0]}:").partition(":")
        if sobject not in self.objects:
            raise InvalidRequest(f"Cursor '{cursor}' does not belong to this connection.", platform=PLATFORM)
        conditions = [f"Id > {soql_id(last_id)}"] if last_id else []
        if modified_since is not None:
            conditions.append(f"LastModifiedDate > {to_iso_z(modified_since)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self.client.query(f"SELECT Id FROM {sobject}{where} ORDER BY Id LIMIT {size}")
        ids = [str(r["Id"]) for r in rows]
        if len(ids) == size:
            return ContactPage(ids, f"{sobject}:{ids[-1]}")
        following = self.objects.index(sobject) + 1
        next_cursor = f"{self.objects[following]}:" if following < len(self.objects) else None
        return ContactPage(ids, next_cursor)

    # -- writing -----------------------------------------------------------------------------------
    def write_fields(self, updates: Sequence[FieldUpdate]) -> WriteResult:
        return self.writer.write(updates)

    def read_fields(self, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        specs = list(self.fields)
        columns = ", ".join(["Id", *(native_name(s) for s in specs)])
        found: dict[str, dict[str, Any]] = {}
        by_object: dict[str, list[str]] = {}
        for contact_id in contact_ids:
            by_object.setdefault(self._sobject_of(contact_id), []).append(contact_id)
        for sobject, ids in by_object.items():
            wanted = {i[:15]: i for i in ids}
            for chunk in chunked(ids, IN_CHUNK):
                for row in self.client.query(f"SELECT {columns} FROM {sobject} WHERE Id IN {_in(chunk)}"):
                    key = wanted.get(str(row["Id"])[:15], str(row["Id"]))
                    found[key] = {s.key: from_salesforce(s, row.get(native_name(s))) for s in specs}
        return found

    def api_usage(self) -> dict[str, Any]:
        usage = self.client.org_usage()
        ceiling = budget_ceiling(self.connection.settings.get("daily_api_budget"), usage.limit)
        remaining = usage.limit - usage.used if usage.limit is not None and usage.used is not None else None
        return {"used": usage.used, "limit": usage.limit, "remaining": remaining, "budget": ceiling,
                "calls": self.client.calls}
