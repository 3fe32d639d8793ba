"""``cem-connector install dynamics``: solution, CEM columns on contact, publish, webhook steps.

Idempotent: every object is looked up first and only created (or corrected) when missing or
different; a dry run performs the look-ups and reports the plan without writing anything.

1. Solution (``solution_unique_name``) and its publisher (``publisher_unique_name``, prefix
   ``prefix``, option value prefix ``option_value_prefix``), created when missing.
2. Columns: ``POST EntityDefinitions(LogicalName='contact')/Attributes`` with
   ``MSCRM.SolutionUniqueName`` so they land in the solution; missing choice options are added
   with the ``InsertOptionValue`` action.
3. ``PublishXml`` for contact, so forms, views and the API see the new columns.
4. Webhook: a ``serviceendpoint`` (contract 8 Webhook, WebhookKey or HttpHeader auth, JSON) and
   one asynchronous PostOperation step per (message, table). The contact Update step filters on
   the columns people edit, never the CEM columns, so the connector's own writes trigger nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

from ..base import ProvisionReport
from ..errors import ConfigurationError, NotFound
from ..fields import FieldSpec
from .client import WebApiClient
from .consts import PLATFORM
from .mapping import ColumnNaming, label

WEBHOOK_CONTRACT = 8
AUTH_TYPES = {"webhookkey": 4, "httpheader": 5}
JSON_FORMAT = 2
ASYNC_MODE, POST_OPERATION = 1, 40
STEP_TABLES = ("contact", "email", "phonecall", "appointment", "annotation", "incident")
# Create/Update of every table re-analyse a contact; Delete of a contact makes the connector forget the
# person (GDPR: nothing stays stored about someone deleted in the CRM).
STEPS = (*((table, message) for table in STEP_TABLES for message in ("Create", "Update")), ("contact", "Delete"))
# Columns whose change should re-analyse a contact; CEM columns are deliberately absent (loop prevention).
CONTACT_FILTERING_ATTRIBUTES = ("firstname", "lastname", "emailaddress1", "parentcustomerid", "statecode")


class Installer:
    def __init__(self, client: WebApiClient, settings: Mapping[str, Any], credentials: Mapping[str, Any],
                 naming: ColumnNaming, fields: Sequence[FieldSpec]) -> None:
        self.client = client
        self.fields = fields
        self.settings = settings
        self.credentials = credentials
        self.naming = naming
        self.solution = str(settings.get("solution_unique_name") or "cemconnector")
        self.publisher = str(settings.get("publisher_unique_name") or self.solution)

    def run(self, *, dry_run: bool) -> ProvisionReport:
        report = ProvisionReport(dry_run=dry_run)
        self._solution(report, dry_run)
        created_columns = self._columns(report, dry_run)
        if created_columns:
            if not dry_run:
                self.client.request("POST", "PublishXml", json={"ParameterXml": (
                    "<importexportxml><entities><entity>contact</entity></entities></importexportxml>")},
                    describe="publish contact customizations")
            report.add("publish", "contact customizations", f"{created_columns} column change(s)")
        self._webhook(report, dry_run)
        return report

    # -- solution and publisher -------------------------------------------------------------
    def _first(self, entity_set: str, filter_: str, select: str) -> dict[str, Any] | None:
        rows = self.client.get_json(entity_set, {"$filter": filter_, "$select": select},
                                    describe=f"look up {entity_set}").get("value", [])
        return rows[0] if rows else None

    def _solution(self, report: ProvisionReport, dry_run: bool) -> None:
        solution = self._first("solutions", f"uniquename eq '{self.solution}'", "solutionid,_publisherid_value")
        if solution:
            publisher = self.client.get_json(f"publishers({solution['_publisherid_value']})", {
                "$select": "uniquename,customizationprefix,customizationoptionvalueprefix"}, describe="read publisher")
            self._check_publisher(publisher)
            report.add("unchanged", f"solution {self.solution}", f"publisher prefix {publisher['customizationprefix']}")
            return
        publisher = self._first("publishers", f"uniquename eq '{self.publisher}'",
                                "publisherid,customizationprefix,customizationoptionvalueprefix")
        if publisher:
            self._check_publisher(publisher)
            report.add("unchanged", f"publisher {self.publisher}")
        else:
            report.add("create", f"publisher {self.publisher}",
                       f"prefix {self.naming.prefix}, option values from {self.naming.option_value_prefix}0000")
            if not dry_run:
                self.client.request("POST", "publishers", json={
                    "uniquename": self.publisher, "friendlyname": "CEM connector",
                    "customizationprefix": self.naming.prefix,
                    "customizationoptionvalueprefix": self.naming.option_value_prefix}, describe="create publisher")
                publisher = self._first("publishers", f"uniquename eq '{self.publisher}'", "publisherid")
        report.add("create", f"solution {self.solution}")
        if not dry_run and publisher:
            self.client.request("POST", "solutions", json={
                "uniquename": self.solution, "friendlyname": "CEM connector", "version": "1.0.0.0",
                "publisherid@odata.bind": f"/publishers({publisher['publisherid']})"}, describe="create solution")

    def _check_publisher(self, publisher: Mapping[str, Any]) -> None:
        prefix, option_prefix = publisher.get("customizationprefix"), publisher.get("customizationoptionvalueprefix")
        if str(prefix).lower() != self.naming.prefix or int(option_prefix or 0) != self.naming.option_value_prefix:
            raise ConfigurationError(
                f"The solution's publisher uses prefix '{prefix}' and option value prefix {option_prefix}, but the "
                f"connection says '{self.naming.prefix}' / {self.naming.option_value_prefix}. Set prefix and "
                "option_value_prefix to the publisher's values (or pick another solution_unique_name).",
                platform=PLATFORM)

    # -- columns --------------------------------------------------------------------------
    def _attribute_path(self, spec: FieldSpec) -> str:
        return f"EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='{self.naming.logical_name(spec)}')"

    def _columns(self, report: ProvisionReport, dry_run: bool) -> int:
        changes = 0
        for spec in self.fields:
            name = self.naming.logical_name(spec)
            try:
                path = self._attribute_path(spec)
                if spec.type == "picklist":
                    path += "/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
                existing = self.client.get_json(path, {"$select": "LogicalName,AttributeType"} | (
                    {"$expand": "OptionSet"} if spec.type == "picklist" else {}), describe=f"read column {name}")
            except NotFound:
                existing = None
            if existing is None:
                changes += 1
                report.add("create", f"column {name} on contact", spec.type)
                if not dry_run:
                    self.client.request("POST", "EntityDefinitions(LogicalName='contact')/Attributes",
                                        json=self.naming.attribute_definition(spec),
                                        headers={"MSCRM.SolutionUniqueName": self.solution},
                                        describe=f"create column {name}")
                continue
            missing = self._missing_options(spec, existing)
            if not missing:
                report.add("unchanged", f"column {name} on contact")
                continue
            changes += 1
            report.add("update", f"column {name} on contact", "add options: " + ", ".join(missing))
            if not dry_run:
                for option in missing:
                    self.client.request("POST", "InsertOptionValue", json={
                        "EntityLogicalName": "contact", "AttributeLogicalName": name,
                        "Value": self.naming.option_value(spec, option), "Label": label(spec.option_label(option)),
                        "SolutionUniqueName": self.solution}, describe=f"add option {option} to {name}")
        return changes

    def _missing_options(self, spec: FieldSpec, existing: Mapping[str, Any]) -> list[str]:
        if spec.type != "picklist":
            return []
        present = {o.get("Value") for o in (existing.get("OptionSet") or {}).get("Options", [])}
        return [o for o in spec.options if self.naming.option_value(spec, o) not in present]

    # -- webhook ----------------------------------------------------------------------------
    def _auth(self) -> tuple[int, str]:
        secret = str(self.credentials.get("webhook_secret") or "")
        auth = str(self.settings.get("webhook_auth") or "webhookkey").lower()
        if auth not in AUTH_TYPES:
            raise ConfigurationError("webhook_auth must be WebhookKey or HttpHeader.", platform=PLATFORM)
        if auth == "httpheader":
            name = str(self.settings.get("webhook_header") or "x-cem-webhook-key")
            setting = f"<setting name={quoteattr(name)} value={quoteattr(secret)} />"
            return AUTH_TYPES[auth], f"<settings>{setting}</settings>"
        return AUTH_TYPES[auth], secret

    def _webhook(self, report: ProvisionReport, dry_run: bool) -> None:
        url = self.settings.get("webhook_url")
        if not url or not self.credentials.get("webhook_secret"):
            report.add("todo", "webhook", "not registered: webhook_url / webhook_secret missing; run "
                       "`cem-connector connect dynamics` again (it sets both) or register it by hand")
            return
        auth_type, auth_value = self._auth()
        endpoint = self._first("serviceendpoints", f"contract eq {WEBHOOK_CONTRACT} and url eq '{url}'",
                               "serviceendpointid,name,authtype,url")
        body = {"name": "CEM connector", "url": url, "contract": WEBHOOK_CONTRACT, "authtype": auth_type,
                "authvalue": auth_value, "messageformat": JSON_FORMAT,
                "description": "Customer Experience Mapping: sends contact and activity changes to the connector."}
        if endpoint is None:
            report.add("register", f"webhook {url}", f"authtype {auth_type}")
            if dry_run:
                for table, message in STEPS:
                    report.add("register", f"step {message} of {table}", "asynchronous, PostOperation")
                return
            self.client.request("POST", "serviceendpoints", json=body, describe="register webhook")
            endpoint = self._first("serviceendpoints", f"contract eq {WEBHOOK_CONTRACT} and url eq '{url}'",
                                   "serviceendpointid,name,authtype,url")
            assert endpoint is not None
        elif int(endpoint.get("authtype") or 0) != auth_type:
            report.add("update", f"webhook {url}", f"authtype {endpoint.get('authtype')} -> {auth_type}")
            if not dry_run:
                self.client.request("PATCH", f"serviceendpoints({endpoint['serviceendpointid']})", json=body,
                                    describe="update webhook")
        else:
            # authvalue cannot be read back (powerapps-docs register-web-hook); rotate with `install` after
            # changing webhook_secret AND setting webhook_rotate=true.
            if self.settings.get("webhook_rotate"):
                report.add("update", f"webhook {url}", "secret rotated")
                if not dry_run:
                    self.client.request("PATCH", f"serviceendpoints({endpoint['serviceendpointid']})",
                                        json={"authvalue": auth_value}, describe="rotate webhook secret")
            else:
                report.add("unchanged", f"webhook {url}")
        self._steps(report, dry_run, str(endpoint["serviceendpointid"]))

    def _steps(self, report: ProvisionReport, dry_run: bool, endpoint_id: str) -> None:
        existing = {s["name"]: s for s in self.client.rows(
            f"serviceendpoints({endpoint_id})/serviceendpoint_sdkmessageprocessingstep",
            {"$select": "sdkmessageprocessingstepid,name,filteringattributes,mode,stage"}, describe="read steps")}
        messages = {m: self._first("sdkmessages", f"name eq '{m}'", "sdkmessageid") for m in {m for _, m in STEPS}}
        for table, message in STEPS:
            name = f"CEM connector: {message} of {table}"
            filtering = ",".join(CONTACT_FILTERING_ATTRIBUTES) if (table, message) == ("contact", "Update") \
                else None
            step = existing.get(name)
            if step is not None:
                if (step.get("filteringattributes") or None) == filtering:
                    report.add("unchanged", f"step {message} of {table}")
                else:
                    report.add("update", f"step {message} of {table}", f"filtering attributes {filtering}")
                    if not dry_run:
                        step_id = step["sdkmessageprocessingstepid"]
                        self.client.request("PATCH", f"sdkmessageprocessingsteps({step_id})",
                                            json={"filteringattributes": filtering}, describe="update step")
                continue
            report.add("register", f"step {message} of {table}", "asynchronous, PostOperation")
            if dry_run:
                continue
            message_row = messages[message]
            if message_row is None:
                raise ConfigurationError(f"SDK message {message} not found in this environment.",
                                         platform=PLATFORM)
            message_id = message_row["sdkmessageid"]
            message_filter = self._first(
                "sdkmessagefilters", f"primaryobjecttypecode eq '{table}' and _sdkmessageid_value eq {message_id}",
                "sdkmessagefilterid")
            if message_filter is None:
                raise ConfigurationError(f"Dataverse has no {message} message for table {table}.",
                                         platform=PLATFORM)
            self.client.request("POST", "sdkmessageprocessingsteps", json={
                "name": name, "description": "CEM connector webhook step", "mode": ASYNC_MODE,
                "stage": POST_OPERATION, "rank": 1, "asyncautodelete": True, "supporteddeployment": 0,
                "filteringattributes": filtering,
                "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({endpoint_id})",
                "sdkmessageid@odata.bind": f"/sdkmessages({message_id})",
                "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({message_filter['sdkmessagefilterid']})",
            }, describe=f"register step {message} of {table}")
