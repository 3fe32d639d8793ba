"""Reads many Salesforce contacts (and leads) at once: one SOQL query per source for the whole batch.

A contact's history lives in nine objects. Reading them one contact at a time costs ~10 API calls
a contact; here every source is read for the whole batch with ``WHERE <key> IN (...)``, and
child-to-parent relationship fields (``Parent.ContactId``, ``CreatedBy.UserType``,
``EmailMessage.Subject``, ``Opportunity.StageName``) bring the rows that hang off cases, emails
and opportunity roles along in the same query, so the cost is at most nine queries (plus one
for leads, plus ``nextRecordsUrl`` pages) however many contacts the batch holds. Rows are then
handed to their contact and mapped with ``mapping`` exactly as a single read would.

Limits honoured (Salesforce knowledge article 000386264 and the App Limits cheatsheet): the
query travels in the URL, and URI + headers may not exceed 16,384 bytes (414 otherwise); SOQL
statements may not exceed 100,000 characters. IN lists are cut so the encoded URL stays under
``MAX_QUERY_URL`` bytes, far below both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

from cem_engine.model import ContactFacts, ContactInput, Deal, Interaction

from ..errors import InvalidRequest
from .client import SalesforceClient
from .install import soql_id
from .mapping import (
    case_interaction,
    comment_interaction,
    email_interaction,
    opportunity_deal,
    parse_date,
    parse_datetime,
    survey_interaction,
    task_interaction,
)

# Room for the instance host, the /services/data/vNN.N/query/?q= path and the Authorization and
# other headers inside Salesforce's 16,384-byte URI + headers limit.
MAX_QUERY_URL = 12_000
MAX_SOQL_CHARS = 100_000
QUERY_PATH_BYTES = 120  # https://<my-domain>.my.salesforce.com/services/data/vNN.N/query/?q=

EMAIL_FIELDS = ("Id", "Subject", "TextBody", "HtmlBody", "Incoming", "MessageDate", "ParentId", "CreatedDate")
OPPORTUNITY_FIELDS = ("Id", "Name", "StageName", "IsClosed", "IsWon", "CloseDate", "Amount", "Type", "CreatedDate")


def key(record_id: Any) -> str:
    """Ids compare on their 15-character case-sensitive form (the API answers with 18)."""
    return str(record_id or "")[:15]


def in_chunks(ids: Sequence[str], soql_for: Callable[[str], str]) -> Iterator[str]:
    """The statements ``soql_for("(<ids>)")`` for consecutive runs of ``ids``, each as long as the URL
    and statement limits allow; the fixed part is measured once, each id adds its encoded length."""
    fixed_url = QUERY_PATH_BYTES + len(quote_plus(soql_for("()")))
    fixed_soql = len(soql_for("()"))
    chunk: list[str] = []
    url, soql = fixed_url, fixed_soql
    for record_id in ids:
        literal = soql_id(record_id) + ", "
        if chunk and (url + len(quote_plus(literal)) > MAX_QUERY_URL or soql + len(literal) > MAX_SOQL_CHARS):
            yield soql_for("(" + ", ".join(soql_id(i) for i in chunk) + ")")
            chunk, url, soql = [], fixed_url, fixed_soql
        chunk.append(record_id)
        url += len(quote_plus(literal))
        soql += len(literal)
    if chunk:
        yield soql_for("(" + ", ".join(soql_id(i) for i in chunk) + ")")


class ContactReader:
    """Batch reads for one connection; ``objects`` maps each requested id to Contact or Lead."""

    def __init__(self, client: SalesforceClient, settings: Mapping[str, Any]) -> None:
        self.client = client
        self.settings = settings
        self.surveys_available: bool | None = None  # learnt on the first read; INVALID_TYPE means "not here"

    def query_in(self, ids: Sequence[str], soql_for: Callable[[str], str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for soql in in_chunks(ids, soql_for):
            rows += self.client.query(soql)
        return rows

    def read(self, by_object: Mapping[str, Sequence[str]]) -> dict[str, ContactInput]:
        """``{"Contact": [ids], "Lead": [ids]}`` -> ContactInput per id that exists, keyed as requested."""
        records = {sobject: self._records(sobject, ids) for sobject, ids in by_object.items() if ids}
        found = {contact_id: (sobject, row) for sobject, rows in records.items() for contact_id, row in rows.items()}
        if not found:
            return {}
        everyone = list(found)
        contacts = [i for i, (sobject, _) in found.items() if sobject == "Contact"]
        requested = {key(i): i for i in everyone}
        interactions: dict[str, list[Interaction]] = {i: [] for i in everyone}
        for owner, interaction in self._tasks(everyone, requested):
            interactions[owner].append(interaction)
        cases = self._cases(contacts, requested)
        for owner, case in cases:
            interactions[owner].append(case_interaction(case, owner))
        case_owner = {key(case["Id"]): owner for owner, case in cases}
        for owner, interaction in self._emails(everyone, requested, case_owner):
            interactions[owner].append(interaction)
        if cases:
            for owner, interaction in self._comments(contacts, case_owner):
                interactions[owner].append(interaction)
        for owner, interaction in self._surveys(everyone, requested):
            interactions[owner].append(interaction)
        deals = self._deals(contacts, requested)
        result: dict[str, ContactInput] = {}
        for contact_id, (sobject, row) in found.items():
            ordered = sorted(interactions[contact_id], key=lambda i: (i.occurred_at, i.id))
            result[contact_id] = ContactInput(contact=self._facts(contact_id, sobject, row),
                                              deals=tuple(sorted(deals.get(contact_id, []), key=lambda d: d.id)),
                                              interactions=tuple(ordered))
        return result

    # -- the contact records --------------------------------------------------------------------
    def _extra_fields(self, sobject: str) -> list[str]:
        if sobject != "Contact":
            return []
        return [f for f in (self.settings.get("lifecycle_field"), self.settings.get("renewal_date_field")) if f]

    def _records(self, sobject: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        # company and owner ride along as relationship fields: no extra query for them
        company = "Company" if sobject == "Lead" else "Account.Name"
        columns = ", ".join(["Id", "Name", "Email", "CreatedDate", company, "Owner.Name", *self._extra_fields(sobject)])
        rows = self.query_in(ids, lambda in_list: f"SELECT {columns} FROM {sobject} WHERE Id IN {in_list}")
        by_key = {key(r["Id"]): r for r in rows}
        return {i: by_key[key(i)] for i in ids if key(i) in by_key}

    def _facts(self, contact_id: str, sobject: str, row: Mapping[str, Any]) -> ContactFacts:
        lifecycle_field = self.settings.get("lifecycle_field")
        renewal_field = self.settings.get("renewal_date_field")
        lifecycle = "lead" if sobject == "Lead" else row.get(lifecycle_field) if lifecycle_field else None
        renewal = parse_date(row.get(renewal_field)) if renewal_field and sobject == "Contact" else None
        return ContactFacts(contact_id=contact_id, lifecycle_stage=lifecycle, renewal_date=renewal,
                            created_at=parse_datetime(row.get("CreatedDate")), email=row.get("Email"),
                            name=row.get("Name"), company=_related_name(row, "Account") or row.get("Company") or None,
                            owner=_related_name(row, "Owner"))

    # -- interactions ----------------------------------------------------------------------------
    def _tasks(self, ids: Sequence[str], requested: Mapping[str, str]) -> list[tuple[str, Interaction]]:
        rows = self.query_in(ids, lambda in_list: (
            "SELECT Id, WhoId, Subject, Description, TaskSubtype, Type, CallType, CallDurationInSeconds, "
            f"CallDisposition, Status, CreatedDate FROM Task WHERE WhoId IN {in_list} ORDER BY CreatedDate"))
        return [(requested[key(t["WhoId"])], task_interaction(t, requested[key(t["WhoId"])]))
                for t in rows if key(t.get("WhoId")) in requested]

    def _cases(self, contacts: Sequence[str], requested: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
        if not contacts:
            return []
        rows = self.query_in(contacts, lambda in_list: (
            "SELECT Id, ContactId, CaseNumber, Subject, Description, Status, Origin, Priority, IsClosed, CreatedDate "
            "FROM Case "
            f"WHERE ContactId IN {in_list} ORDER BY CreatedDate"))
        return [(requested[key(c["ContactId"])], c) for c in rows if key(c.get("ContactId")) in requested]

    def _emails(self, ids: Sequence[str], requested: Mapping[str, str],
                case_owner: Mapping[str, str]) -> list[tuple[str, Interaction]]:
        """Emails a contact is a party to (EmailMessageRelation), and emails on the contact's cases."""
        emails: dict[str, dict[str, dict[str, Any]]] = {i: {} for i in ids}  # contact -> email id -> row
        related = ", ".join(f"EmailMessage.{f}" for f in EMAIL_FIELDS)
        for relation in self.query_in(ids, lambda in_list: (
                f"SELECT EmailMessageId, RelationId, {related} FROM EmailMessageRelation "
                f"WHERE RelationId IN {in_list}")):
            owner = requested.get(key(relation.get("RelationId")))
            email = relation.get("EmailMessage")
            if owner is not None and email:
                emails[owner][key(email["Id"])] = email
        contacts = sorted(set(case_owner.values()))
        if contacts:
            columns = ", ".join(EMAIL_FIELDS)
            for email in self.query_in(contacts, lambda in_list: (
                    f"SELECT {columns} FROM EmailMessage WHERE Parent.ContactId IN {in_list}")):
                owner = case_owner.get(key(email.get("ParentId")))
                if owner is not None:
                    emails[owner].setdefault(key(email["Id"]), email)
        return [(owner, email_interaction(email, owner)) for owner, rows in emails.items() for email in rows.values()]

    def _comments(self, contacts: Sequence[str], case_owner: Mapping[str, str]) -> list[tuple[str, Interaction]]:
        """Case comments with their author's user type (portal user = the customer) in the same query."""
        rows = self.query_in(sorted(set(case_owner.values()) & set(contacts)), lambda in_list: (
            "SELECT Id, ParentId, CommentBody, CreatedById, CreatedBy.UserType, CreatedDate FROM CaseComment "
            f"WHERE Parent.ContactId IN {in_list}"))
        user_types = {key(r["CreatedById"]): str(r["CreatedBy"].get("UserType") or "Standard")
                      for r in rows if r.get("CreatedById") and r.get("CreatedBy")}
        return [(case_owner[key(c["ParentId"])], comment_interaction(c, case_owner[key(c["ParentId"])], user_types))
                for c in rows if key(c.get("ParentId")) in case_owner]

    def _surveys(self, ids: Sequence[str], requested: Mapping[str, str]) -> list[tuple[str, Interaction]]:
        """Salesforce Surveys objects exist only where Surveys is enabled; INVALID_TYPE means "not here"."""
        if self.surveys_available is False:
            return []
        try:
            responses = self.query_in(ids, lambda in_list: (
                "SELECT Id, SubmitterId, Name, CompletionDateTime, CreatedDate FROM SurveyResponse "
                f"WHERE SubmitterId IN {in_list}"))
        except InvalidRequest as error:
            if getattr(error, "sf_code", "") != "INVALID_TYPE":
                raise
            self.surveys_available = False
            return []
        self.surveys_available = True
        responses = [r for r in responses if key(r.get("SubmitterId")) in requested]
        if not responses:
            return []
        submitters = sorted({requested[key(r["SubmitterId"])] for r in responses})
        answers = self.query_in(submitters, lambda in_list: (
            "SELECT Id, ResponseId, QuestionId, Question.Name, Question.QuestionType, ResponseValue, NumberValue "
            f"FROM SurveyQuestionResponse WHERE Response.SubmitterId IN {in_list}"))
        questions = {key(a["QuestionId"]): a["Question"] for a in answers if a.get("QuestionId") and a.get("Question")}
        by_response: dict[str, list[dict[str, Any]]] = {}
        for answer in answers:
            by_response.setdefault(key(answer["ResponseId"]), []).append(answer)
        return [(requested[key(r["SubmitterId"])],
                 survey_interaction(r, by_response.get(key(r["Id"]), []), questions, requested[key(r["SubmitterId"])]))
                for r in responses]

    # -- deals -------------------------------------------------------------------------------------
    def _deals(self, contacts: Sequence[str], requested: Mapping[str, str]) -> dict[str, list[Deal]]:
        """Opportunities through the contact's roles; one deal per opportunity even with several roles."""
        if not contacts:
            return {}
        related = ", ".join(f"Opportunity.{f}" for f in OPPORTUNITY_FIELDS)
        type_map = self.settings.get("opportunity_type_map") or None
        seen: dict[str, dict[str, Deal]] = {}
        for role in self.query_in(contacts, lambda in_list: (
                f"SELECT ContactId, OpportunityId, {related} FROM OpportunityContactRole "
                f"WHERE ContactId IN {in_list}")):
            owner = requested.get(key(role.get("ContactId")))
            opportunity = role.get("Opportunity")
            if owner is not None and opportunity:
                seen.setdefault(owner, {}).setdefault(key(opportunity["Id"]),
                                                      opportunity_deal(opportunity, owner, type_map))
        return {owner: list(deals.values()) for owner, deals in seen.items()}


def _related_name(row: Mapping[str, Any], relationship: str) -> str | None:
    """``Account.Name`` comes back nested ({"Account": {"attributes": ..., "Name": ...}}), null when unset."""
    parent = row.get(relationship)
    return (parent.get("Name") or None) if isinstance(parent, Mapping) else None
