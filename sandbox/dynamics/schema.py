"""The Dataverse tables the sandbox serves: entity sets, primary keys and their standard columns.

Only the columns the connector reads or writes (and a few that make records recognisable) are
listed; writing a column that is neither standard here nor created through metadata gives the
same 400 Dataverse gives ("Could not find a property named ...").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    logical_name: str
    entity_set: str
    primary_id: str
    columns: frozenset[str]
    activity: bool = False  # activities link to contacts through activity parties

    @property
    def parties_navigation(self) -> str:
        return f"{self.logical_name}_activity_parties"


_COMMON = {"createdon", "modifiedon", "statecode", "statuscode", "_ownerid_value", "_createdby_value",
           "_modifiedby_value", "versionnumber"}
_ACTIVITY = _COMMON | {"activityid", "subject", "description", "actualstart", "actualend", "scheduledstart",
                       "scheduledend", "_regardingobjectid_value", "activitytypecode"}


def _table(logical: str, entity_set: str, primary: str, columns: set[str], activity: bool = False) -> Table:
    base = _ACTIVITY if activity else _COMMON
    return Table(logical, entity_set, primary, frozenset(base | columns | {primary}), activity)


TABLES: dict[str, Table] = {t.entity_set: t for t in (
    _table("contact", "contacts", "contactid",
           {"firstname", "lastname", "fullname", "emailaddress1", "jobtitle", "telephone1", "_parentcustomerid_value"}),
    _table("email", "emails", "activityid", {"directioncode", "sender", "torecipients", "senton"}, activity=True),
    _table("phonecall", "phonecalls", "activityid", {"directioncode", "phonenumber"}, activity=True),
    _table("appointment", "appointments", "activityid", {"location"}, activity=True),
    _table("annotation", "annotations", "annotationid",
           {"subject", "notetext", "_objectid_value", "objecttypecode", "isdocument"}),
    _table("incident", "incidents", "incidentid",
           {"title", "description", "ticketnumber", "_customerid_value", "prioritycode", "caseorigincode"}),
    _table("opportunity", "opportunities", "opportunityid",
           {"name", "estimatedvalue", "actualvalue", "estimatedclosedate", "actualclosedate", "salesstage",
            "stepname", "_parentcontactid_value", "_customerid_value"}),
    _table("activityparty", "activityparties", "activitypartyid",
           {"_activityid_value", "_partyid_value", "participationtypemask"}),
    _table("account", "accounts", "accountid", {"name"}),
    _table("systemuser", "systemusers", "systemuserid", {"fullname", "internalemailaddress"}),
    _table("publisher", "publishers", "publisherid",
           {"uniquename", "friendlyname", "customizationprefix", "customizationoptionvalueprefix", "description"}),
    _table("solution", "solutions", "solutionid",
           {"uniquename", "friendlyname", "version", "_publisherid_value", "description"}),
    _table("serviceendpoint", "serviceendpoints", "serviceendpointid",
           {"name", "url", "contract", "authtype", "authvalue", "messageformat", "messagecharset", "description",
            "namespaceaddress", "solutionnamespace"}),
    _table("sdkmessage", "sdkmessages", "sdkmessageid", {"name"}),
    _table("sdkmessagefilter", "sdkmessagefilters", "sdkmessagefilterid",
           {"primaryobjecttypecode", "_sdkmessageid_value"}),
    _table("sdkmessageprocessingstep", "sdkmessageprocessingsteps", "sdkmessageprocessingstepid",
           {"name", "description", "mode", "stage", "rank", "asyncautodelete", "filteringattributes",
            "supporteddeployment", "_eventhandler_value", "_sdkmessageid_value", "_sdkmessagefilterid_value"}),
)}
BY_LOGICAL: dict[str, Table] = {t.logical_name: t for t in TABLES.values()}
# Lookup columns whose formatted value (the referenced row's primary name) the sandbox can give:
# column -> the (entity set, primary name column) pairs it may point at.
LOOKUP_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "_parentcustomerid_value": (("accounts", "name"), ("contacts", "fullname")),
    "_customerid_value": (("accounts", "name"), ("contacts", "fullname")),
    "_ownerid_value": (("systemusers", "fullname"),),
}
FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue"

# Where a navigation property written with @odata.bind lands as a lookup column.
BIND_TARGETS: dict[str, str] = {
    "eventhandler_serviceendpoint": "_eventhandler_value",
    "sdkmessageid": "_sdkmessageid_value",
    "sdkmessagefilterid": "_sdkmessagefilterid_value",
    "publisherid": "_publisherid_value",
    "parentcustomerid_contact": "_parentcustomerid_value",
    "regardingobjectid_contact": "_regardingobjectid_value",
    "objectid_contact": "_objectid_value",
    "customerid_contact": "_customerid_value",
    "parentcontactid": "_parentcontactid_value",
}
# Activity-party participation types (learn: activityparty entity).
SENDER, TO_RECIPIENT, REQUIRED_ATTENDEE, ORGANIZER, CUSTOMER = 1, 2, 5, 7, 11
MESSAGES = ("Create", "Update", "Delete")
