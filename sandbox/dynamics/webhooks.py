"""Build the JSON serialisation of ``Microsoft.Xrm.Sdk.RemoteExecutionContext`` that Dataverse posts.

Shape per powerapps-docs ``use-webhooks.md``: collections are arrays of ``{key, value}``; the record
is ``InputParameters[Target]``, an ``Entity`` with typed attribute values (``/Date(ms)/`` dates,
``EntityReference`` lookups, ``OptionSetValue`` choices, ``EntityCollection`` activity parties).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

CONTRACTS = "http://schemas.microsoft.com/xrm/2011/Contracts"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
_PICKLISTS = {"statecode", "statuscode", "prioritycode", "caseorigincode", "salesstage"}
_PARTY_FIELDS = {1: "from", 2: "to", 5: "requiredattendees", 7: "organizer", 11: "customers"}


def wcf_date(value: datetime | str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return f"/Date({int(moment.timestamp() * 1000)})/"


def entity_reference(logical_name: str, record_id: str) -> dict[str, Any]:
    return {"__type": f"EntityReference:{CONTRACTS}", "Id": record_id, "KeyAttributes": [],
            "LogicalName": logical_name, "Name": None, "RowVersion": None}


def _typed(name: str, value: Any, custom: Mapping[str, str]) -> tuple[str, Any]:
    if name.startswith("_") and name.endswith("_value"):
        target = "systemuser" if name in ("_createdby_value", "_modifiedby_value", "_ownerid_value") else "contact"
        return name[1: -len("_value")], entity_reference(target, value) if value else None
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        return name, wcf_date(value)
    if (name in _PICKLISTS or custom.get(name) == "Picklist") and isinstance(value, int):
        return name, {"__type": f"OptionSetValue:{CONTRACTS}", "Value": value}
    return name, value


def entity(logical_name: str, record_id: str, attributes: Mapping[str, Any], custom: Mapping[str, str],
           parties: list[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    pairs = [dict(zip(("key", "value"), _typed(k, v, custom), strict=True))
             for k, v in attributes.items() if not k.startswith("__")]
    by_field: dict[str, list[dict[str, Any]]] = {}
    for party in parties or []:
        by_field.setdefault(_PARTY_FIELDS.get(int(party["participationtypemask"]), "customers"), []).append(
            entity("activityparty", str(uuid.uuid4()),
                   {"_partyid_value": party["_partyid_value"],
                    "participationtypemask": party["participationtypemask"]}, {}))
    for name, members in by_field.items():
        pairs.append({"key": name, "value": {"__type": f"EntityCollection:{CONTRACTS}", "Entities": members,
                                             "EntityName": "activityparty", "MoreRecords": False,
                                             "PagingCookie": None, "TotalRecordCount": -1}})
    return {"__type": f"Entity:{CONTRACTS}", "Attributes": pairs, "EntityState": None, "FormattedValues": [],
            "Id": record_id, "KeyAttributes": [], "LogicalName": logical_name, "RelatedEntities": [],
            "RowVersion": None}


def execution_context(*, message: str, logical_name: str, record_id: str, target: dict[str, Any],
                      post_image: dict[str, Any] | None, step: Mapping[str, Any], org: Any, user_id: str,
                      correlation_id: str, occurred: datetime, depth: int = 1) -> dict[str, Any]:
    asynchronous = int(step.get("mode", 1)) == 1
    return {
        "BusinessUnitId": org.business_unit_id,
        "CorrelationId": correlation_id,
        "Depth": depth,
        "InitiatingUserAzureActiveDirectoryObjectId": ZERO_GUID,
        "InitiatingUserId": user_id,
        "InputParameters": [{"key": "Target", "value": target}],
        "IsExecutingOffline": False,
        "IsInTransaction": not asynchronous,
        "IsOfflinePlayback": False,
        "IsolationMode": 1,
        "MessageName": message,
        "Mode": 1 if asynchronous else 0,
        "OperationCreatedOn": wcf_date(occurred),
        # async steps run as a system job whose id stays the same if Dataverse retries it
        "OperationId": str(uuid.uuid4()) if asynchronous else ZERO_GUID,
        "OrganizationId": org.organization_id,
        "OrganizationName": org.organization_name,
        "OutputParameters": [{"key": "id", "value": record_id}] if message == "Create" else [],
        "OwningExtension": {"Id": step["sdkmessageprocessingstepid"], "KeyAttributes": [],
                            "LogicalName": "sdkmessageprocessingstep", "Name": step.get("name"), "RowVersion": None},
        "ParentContext": None,
        "PostEntityImages": [{"key": "AsynchronousStepPrimaryName", "value": post_image}] if post_image else [],
        "PreEntityImages": [],
        "PrimaryEntityId": record_id,
        "PrimaryEntityName": logical_name,
        "RequestId": str(uuid.uuid4()),
        "SecondaryEntityName": "none",
        "SharedVariables": [],
        "Stage": int(step.get("stage", 40)),
        "UserId": user_id,
    }
