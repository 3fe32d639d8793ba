"""A local Salesforce org: REST + Tooling + login endpoints and an Outbound Message sender.

Exchange-format records become native objects the way an org holds them:
contact -> Contact; deal -> Opportunity + OpportunityContactRole; email -> EmailMessage +
EmailMessageRelation (``Incoming`` from the direction); call / note / meeting -> Task
(``TaskSubtype`` Call / Task, ``CallType`` Inbound / Outbound); ticket -> Case (customer) or
CaseComment (rep); chat / form -> Case with Origin Chat / Web; survey -> SurveyResponse +
SurveyQuestionResponse. Changes are announced by Outbound Messages (SOAP, secret token in
the URL, retried until acknowledged).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask

from ..base import SandboxCRM, chunked
from ..sender import WebhookSender
from .api import SalesforceApi
from .soql import parse_datetime
from .store import OrgStore, sf_datetime
from .webhooks import MAX_NOTIFICATIONS, envelope, make_sender

STAGE_NAMES = {"appointmentscheduled": "Prospecting", "qualifiedtobuy": "Qualification",
               "presentationscheduled": "Value Proposition", "decisionmakerboughtin": "Id. Decision Makers",
               "contractsent": "Proposal/Price Quote", "closedwon": "Closed Won", "closedlost": "Closed Lost"}
OPPORTUNITY_TYPES = {"new_business": "New Customer", "upsell": "Existing Customer - Upgrade", "renewal": "Renewal"}
INTEGRATION_PASSWORD = "sandbox-password"
INTEGRATION_TOKEN = "SANDBOXTOKEN0123"


def _stamp(value: Any) -> str:
    if not value:
        return sf_datetime()
    moment = value if isinstance(value, datetime) else parse_datetime(str(value)) if "T" in str(value) else \
        datetime.combine(date.fromisoformat(str(value)[:10]), datetime.min.time(), tzinfo=UTC)
    return sf_datetime(moment)


class SalesforceSandbox(SandboxCRM):
    platform = "salesforce"

    def __init__(self, *, time_scale: float = 0.001, api_version: str = "59.0", daily_limit: int = 15000,
                 outbound_org_id: str = "both") -> None:
        """``outbound_org_id``: which form of the org id outbound messages carry, "18", "15", or "both"
        (alternating per message: real orgs' messages are seen with either, and receivers must take both)."""
        if outbound_org_id not in ("18", "15", "both"):
            raise ValueError("outbound_org_id must be '18', '15' or 'both'")
        self.outbound_org_id = outbound_org_id
        self._outbound_messages = itertools.count()
        self.store = OrgStore()
        self.api_version = api_version
        super().__init__(time_scale=time_scale)
        self.api = SalesforceApi(self.store, api_version=api_version, daily_limit=daily_limit, calls=self.calls)
        integration = self.store.get("User", self.store.integration_user_id) or {}
        self.integration_username: str = integration["Username"]
        self.api.passwords[self.integration_username.lower()] = INTEGRATION_PASSWORD + INTEGRATION_TOKEN
        self.webhook_secret = ""
        self.consumer_key: str | None = None
        self._exchange_ids: dict[str, str] = {}  # exchange contact id -> native id
        self._action_id = self.store.new_id("04k")
        self._notification_counter = itertools.count(1)
        self._survey_question_ids: dict[str, str] = {}

    # -- server -----------------------------------------------------------------------------
    def create_app(self) -> Flask:
        app = Flask("salesforce-sandbox")
        self.api.register(app)
        return app

    def make_sender(self) -> WebhookSender:
        return make_sender(self.time_scale)

    # -- connection ---------------------------------------------------------------------------
    def register_connected_app(self, consumer_key: str, public_key_pem: str) -> None:
        """Upload a connected app's certificate / public key for the JWT bearer flow."""
        self.api.register_connected_app(consumer_key, public_key_pem)
        self.consumer_key = consumer_key

    def connection_settings(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Settings for the integration user. With a registered connected app: JWT bearer (the
        credentials then need the matching ``private_key``, which the sandbox never holds);
        otherwise the username + password + security token flow, answered by the SOAP login."""
        settings: dict[str, Any] = {
            "login_url": self.url, "api_version": self.api_version, "org_id": self.store.org_id,
            "username": self.integration_username, "objects": ["Contact"],
            "integration_user_id": self.store.integration_user_id,
        }
        if self.consumer_key:
            settings["auth"] = "jwt"
            return settings, {"consumer_key": self.consumer_key}
        settings["auth"] = "password"
        return settings, {"password": INTEGRATION_PASSWORD, "security_token": INTEGRATION_TOKEN}

    def session_for_integration_user(self) -> str:
        """An access token for the "existing session" mode (as if copied from another tool)."""
        return self.api.issue_session(self.store.integration_user_id)

    def _outbound_org_id(self) -> str:
        short = self.outbound_org_id == "15" or (self.outbound_org_id == "both" and next(self._outbound_messages) % 2)
        return self.store.org_id[:15] if short else self.store.org_id

    # -- data ---------------------------------------------------------------------------------
    def seed_contact(self, record: Mapping[str, Any]) -> str:
        exchange_id = str(record["contact_id"])
        # the exchange format's fields (first_name, last_name, created); "name" / "created_at" for older files
        first, last = record.get("first_name"), record.get("last_name")
        if not first and not last:
            first, _, last = str(record.get("name") or f"Customer {exchange_id}").partition(" ")
        created = record.get("created") or record.get("created_at")
        values = {"FirstName": (first or None) if last else None, "LastName": last or first,
                  "Email": record.get("email") or f"{exchange_id}@customer.example"}
        if record.get("company"):
            values["AccountId"] = self._named("Account", str(record["company"]), {})
        if record.get("owner"):
            owner = str(record["owner"])
            values["OwnerId"] = self._named("User", owner, {
                "Username": owner.lower().replace(" ", ".") + "@cem-sandbox.example", "UserType": "Standard",
                "Email": owner.lower().replace(" ", ".") + "@vendor.example", "IsActive": True})
        native = self.store.insert("Contact", values, user_id=self.store.admin_id,
                                   created=_stamp(created) if created else None)
        self._exchange_ids[exchange_id] = native
        return native

    def _named(self, sobject: str, name: str, values: Mapping[str, Any]) -> str:
        """The id of the Account / User called ``name``, inserted on first use."""
        with self.store.lock:
            for record in self.store.records[sobject].values():
                if record.get("Name") == name:
                    return str(record["Id"])
            return self.store.insert(sobject, {"Name": name, **values}, user_id=self.store.admin_id)

    def _contact(self, exchange_id: str) -> str:
        if exchange_id not in self._exchange_ids:
            self.seed_contact({"contact_id": exchange_id})
        return self._exchange_ids[exchange_id]

    def seed_deal(self, record: Mapping[str, Any]) -> str:
        contact_id = self._contact(str(record["contact_id"]))
        opportunity = self.store.insert("Opportunity", {
            "Name": record.get("name") or f"Deal {record.get('id')}",
            "StageName": STAGE_NAMES.get(str(record.get("stage")), "Prospecting"),
            "Type": OPPORTUNITY_TYPES.get(str(record.get("type") or "new_business"), "New Customer"),
            "Amount": record.get("amount"),
            "CloseDate": str(record.get("close_date"))[:10] if record.get("close_date") else None,
        }, user_id=self.store.admin_id, created=_stamp(record.get("created")) if record.get("created") else None)
        self.store.insert("OpportunityContactRole", {"OpportunityId": opportunity, "ContactId": contact_id,
                                                     "Role": "Decision Maker", "IsPrimary": True},
                          user_id=self.store.admin_id)
        return opportunity

    def add_interaction(self, record: Mapping[str, Any], *, notify: bool = True) -> str:
        contact_id = self._contact(str(record["contact_id"]))
        kind = str(record.get("kind") or "note")
        direction = str(record.get("direction") or "inbound")
        author = record.get("author") or ("customer" if direction == "inbound" else "rep")
        when = _stamp(record.get("occurred_at"))
        subject, body = str(record.get("subject") or ""), str(record.get("body") or "")
        customer_user = self.store.portal_user_id
        rep = self.store.admin_id
        sobject: str
        if kind == "email":
            sobject = "EmailMessage"
            contact = self.store.get("Contact", contact_id) or {}
            native = self.store.insert(sobject, {
                "Subject": subject, "TextBody": body, "Incoming": direction == "inbound", "MessageDate": when,
                "FromAddress": contact.get("Email") if direction == "inbound" else "rep@company.example",
                "ToAddress": "support@company.example" if direction == "inbound" else contact.get("Email"),
                "Status": "3" if direction != "inbound" else "0",
            }, user_id=rep, created=when)
            self.store.insert("EmailMessageRelation", {
                "EmailMessageId": native, "RelationId": contact_id, "RelationObjectType": "Contact",
                "RelationType": "FromAddress" if direction == "inbound" else "ToAddress",
                "RelationAddress": contact.get("Email")}, user_id=rep, created=when)
        elif kind in ("call", "note", "meeting"):
            sobject = "Task"
            native = self.store.insert(sobject, {
                "WhoId": contact_id, "Subject": subject or kind.capitalize(), "Description": body,
                "Status": "Completed", "TaskSubtype": "Call" if kind == "call" else "Task",
                "Type": "Meeting" if kind == "meeting" else ("Call" if kind == "call" else "Other"),
                "CallType": ("Inbound" if direction == "inbound" else "Outbound") if kind == "call" else None,
                "ActivityDate": when[:10],
            }, user_id=rep, created=when)
        elif kind == "ticket" and author != "customer":
            sobject = "CaseComment"
            native = self.store.insert(sobject, {"ParentId": self._latest_case(contact_id, when), "CommentBody": body,
                                                 "IsPublished": True}, user_id=rep, created=when)
        elif kind == "survey":
            sobject = "SurveyResponse"
            native = self._seed_survey(contact_id, record, when)
        else:  # ticket by the customer, chat, form
            sobject = "Case"
            origin = {"chat": "Chat", "form": "Web"}.get(kind, "Email")
            native = self.store.insert(sobject, {"ContactId": contact_id, "Subject": subject, "Description": body,
                                                 "Status": "New", "Origin": origin},
                                       user_id=customer_user if author == "customer" else rep, created=when)
        if notify:
            self.notify([native])
        return native

    def _latest_case(self, contact_id: str, when: str) -> str:
        cases = [c for c in self.store.records["Case"].values() if (c.get("ContactId") or "")[:15] == contact_id[:15]]
        if cases:
            return max(cases, key=lambda c: c["CreatedDate"])["Id"]
        return self.store.insert("Case", {"ContactId": contact_id, "Subject": "Support", "Status": "New",
                                          "Origin": "Phone"}, user_id=self.store.admin_id, created=when)

    def _seed_survey(self, contact_id: str, record: Mapping[str, Any], when: str) -> str:
        metadata = record.get("metadata") or {}
        response = self.store.insert("SurveyResponse", {"SubmitterId": contact_id, "Status": "Completed",
                                                        "CompletionDateTime": when,
                                                        "Name": record.get("subject") or "Survey"},
                                     user_id=self.store.portal_user_id, created=when)
        if "nps" in metadata:
            question = self._question("How likely are you to recommend us?", "NPS")
            self.store.insert("SurveyQuestionResponse", {"ResponseId": response, "QuestionId": question,
                                                         "NumberValue": metadata["nps"], "Datatype": "Number"},
                              user_id=self.store.portal_user_id, created=when)
        if record.get("body"):
            question = self._question(str(record.get("subject") or "Tell us more"), "FreeText")
            self.store.insert("SurveyQuestionResponse", {"ResponseId": response, "QuestionId": question,
                                                         "ResponseValue": record["body"], "Datatype": "String"},
                              user_id=self.store.portal_user_id, created=when)
        return response

    def _question(self, name: str, question_type: str) -> str:
        if name not in self._survey_question_ids:
            self._survey_question_ids[name] = self.store.insert(
                "SurveyQuestion", {"Name": name, "QuestionType": question_type}, user_id=self.store.admin_id)
        return self._survey_question_ids[name]

    def contact_ids(self) -> list[str]:
        return [r["Id"] for r in self.store.records["Contact"].values()]

    def native_contact_id(self, exchange_contact_id: str) -> str:
        return self._exchange_ids[exchange_contact_id]

    def contact_record(self, contact_id: str) -> dict[str, Any]:
        record = self.store.get("Contact", contact_id) or self.store.get("Lead", contact_id)
        if record is None:
            raise KeyError(contact_id)
        return dict(record)

    def update_contact(self, contact_id: str, values: Mapping[str, Any], *, as_user: str | None = None) -> None:
        """Change a contact as a user would in the UI (LastModifiedById = that user)."""
        self.store.update("Contact", contact_id, values, user_id=as_user or self.store.admin_id)

    # -- webhooks -----------------------------------------------------------------------------
    def subscribe(self, url: str, secret: str) -> None:
        """Point the outbound messages at ``url`` with the secret as ``?token=`` (OM has no signature)."""
        separator = "&" if "?" in url else "?"
        self.webhook_url = f"{url}{separator}token={secret}"
        self.webhook_secret = secret

    def emit_contact_changes(self, contact_ids: Iterable[str]) -> int:
        return self.notify(list(contact_ids))

    def notify(self, record_ids: list[str]) -> int:
        """Queue outbound messages (at most 100 notifications each) for these records."""
        if not self.webhook_url:
            return 0
        notifications = []
        for record_id in record_ids:
            sobject = self.store.object_for_id(record_id)
            record = self.store.get(sobject, record_id) if sobject else None
            if record is None:
                continue
            notification_id = self.store.new_id("04l")
            notifications.append((notification_id, sobject or "", dict(record)))
        for chunk in chunked(notifications, MAX_NOTIFICATIONS):
            body = envelope(self._outbound_org_id(), self._action_id, self.url, self.api_version, chunk)
            self.sender.send(self.webhook_url, body, content_type="text/xml; charset=utf-8")
        return len(notifications)
