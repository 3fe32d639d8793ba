"""The Dataverse Web API v9.2 subset the connector uses, served from an in-memory org.

``DataverseOrg.handle`` is framework-free (method, path, query, headers, body -> response) so the
same code answers plain requests and the parts of a ``$batch``. The Flask app around it does what
the Dataverse front door does: bearer-token check, service protection limits (requests per
window and concurrent requests, 429 + ``Retry-After``), and JSON errors ``{"error": {code, message}}``.
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from flask import Flask, Response, request

from ..ratelimit import SlidingWindowLimiter
from .auth import EntraDirectory
from .batch import BatchFormatError, InnerResponse, parse_batch, render_batch
from .odata import ODataError, compile_filter, select_columns, sort_rows
from .schema import BIND_TARGETS, FORMATTED_VALUE, LOOKUP_NAMES, MESSAGES, TABLES, Table

API_PREFIX = "/api/data/v9.2/"
MAX_BATCH_REQUESTS = 1000
# learn.microsoft.com webapi/compose-http-requests-handle-errors: URLs up to 32,768 characters, and up to
# 65,536 for a request inside a $batch body. The docs do not give the status of a longer one; 414 is ours.
MAX_URL_LENGTH, MAX_BATCH_URL_LENGTH = 32_768, 65_536
_KEYED = re.compile(r"^(?P<set>[A-Za-z_]+)\((?P<key>[^)]*)\)(?P<rest>/.*)?$")
_ATTRIBUTE_TYPES = {
    "Microsoft.Dynamics.CRM.PicklistAttributeMetadata": "Picklist",
    "Microsoft.Dynamics.CRM.DecimalAttributeMetadata": "Decimal",
    "Microsoft.Dynamics.CRM.IntegerAttributeMetadata": "Integer",
    "Microsoft.Dynamics.CRM.MemoAttributeMetadata": "Memo",
    "Microsoft.Dynamics.CRM.StringAttributeMetadata": "String",
    "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata": "DateTime",
}

# (table logical name, message, record id, changed columns, initiating user id, sync?) -> error text or None
ChangeHook = Callable[[str, str, str, dict[str, Any], str, bool], str | None]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ApiResult:
    status: int
    body: Any = None  # dict -> JSON, bytes -> raw
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; odata.metadata=minimal"


class DataverseError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def result(self) -> ApiResult:
        return ApiResult(self.status, {"error": {"code": self.code, "message": self.message}})


class DataverseOrg:
    """One environment: its tables, column metadata, registered webhooks and limits."""

    def __init__(self, *, organization_id: str, organization_name: str, directory: EntraDirectory,
                 application_user_id: str, requests_per_window: int = 6000, window_seconds: float = 300,
                 max_concurrent: int = 52) -> None:
        self.organization_id = organization_id
        self.organization_name = organization_name
        self.business_unit_id = str(uuid.uuid4())
        self.directory = directory
        self.application_user_id = application_user_id
        self.base_url = ""  # set when the server starts
        self.rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TABLES}
        # activity id -> its party rows: a lambda over `*_activity_parties` looks a row's parties up
        # here instead of scanning every party of the org (which pegged a core at 2,000 contacts)
        self._parties: dict[str, dict[str, dict[str, Any]]] = {}
        self.attributes: dict[str, dict[str, Any]] = {}  # custom contact columns by logical name
        self.published: list[str] = []  # ParameterXml of each PublishXml call
        self.lock = threading.RLock()
        self.limiter = SlidingWindowLimiter(requests_per_window, window_seconds)
        self.requests_per_window, self.window_seconds = requests_per_window, window_seconds
        self.max_concurrent = max_concurrent
        self._in_flight = 0
        self._flight_lock = threading.Lock()
        self.on_change: ChangeHook | None = None
        self._deferred: list[tuple[Table, str, str, dict[str, Any], str]] | None = None  # inside a change set
        self.fail_next: list[tuple[str, int]] = []  # (path substring, status) faults for tests
        self._seed_sdk_messages()

    # -- setup ---------------------------------------------------------------------------
    def _seed_sdk_messages(self) -> None:
        for message in MESSAGES:
            message_id = str(uuid.uuid4())
            self.rows["sdkmessages"][message_id] = {"sdkmessageid": message_id, "name": message}
            for table in ("contact", "email", "phonecall", "appointment", "annotation", "incident", "opportunity"):
                filter_id = str(uuid.uuid4())
                self.rows["sdkmessagefilters"][filter_id] = {
                    "sdkmessagefilterid": filter_id, "primaryobjecttypecode": table, "_sdkmessageid_value": message_id}

    @property
    def api_root(self) -> str:
        return self.base_url.rstrip("/") + API_PREFIX

    # -- storage helpers (also used by the sandbox to seed and to play "a rep in the UI") --
    def insert(self, entity_set: str, values: Mapping[str, Any], *, user_id: str, notify: bool = True,
               record_id: str | None = None) -> str:
        table = TABLES[entity_set]
        record_id = (record_id or values.get(table.primary_id) or str(uuid.uuid4())).lower()
        stamp = now_iso()
        row = {table.primary_id: record_id, "createdon": stamp, "modifiedon": stamp, "statecode": 0,
               "_createdby_value": user_id, "_modifiedby_value": user_id, "versionnumber": 1, **values}
        row[table.primary_id] = record_id
        with self.lock:
            self.rows[entity_set][record_id] = row
            self._index(entity_set, record_id, None, row)
        if notify:
            self._notify(table, "Create", record_id, dict(values), user_id)
        return record_id

    def _index(self, entity_set: str, record_id: str, before: Mapping[str, Any] | None,
               after: Mapping[str, Any] | None) -> None:
        """Keep the party index in step with a row change (callers hold the lock)."""
        if entity_set != "activityparties":
            return
        if before is not None:
            self._parties.get(str(before.get("_activityid_value")), {}).pop(record_id, None)
        if after is not None:
            self._parties.setdefault(str(after.get("_activityid_value")), {})[record_id] = dict(after)

    def delete(self, entity_set: str, record_id: str, *, user_id: str, notify: bool = True) -> bool:
        """Remove a row; Delete steps run after it is gone (PostOperation)."""
        table = TABLES[entity_set]
        with self.lock:
            removed = self.rows[entity_set].pop(record_id.lower(), None)
            if removed is None:
                return False
            self._index(entity_set, record_id.lower(), removed, None)
        if notify:
            self._notify(table, "Delete", record_id.lower(), {}, user_id)
        return True

    def update(self, entity_set: str, record_id: str, values: Mapping[str, Any], *, user_id: str,
               notify: bool = True) -> None:
        table = TABLES[entity_set]
        with self.lock:
            row = self.rows[entity_set][record_id.lower()]
            before = dict(row)
            row.update(values)
            row["modifiedon"], row["_modifiedby_value"] = now_iso(), user_id
            row["versionnumber"] = int(row.get("versionnumber", 0)) + 1
            self._index(entity_set, record_id.lower(), before, row)
        if notify:
            error = self._notify(table, "Update", record_id.lower(), dict(values), user_id)
            if error:
                with self.lock:  # a failed synchronous step rolls the operation back
                    self.rows[entity_set][record_id.lower()] = before
                    self._index(entity_set, record_id.lower(), row, before)
                raise DataverseError(400, "0x80040265", error)

    def _notify(self, table: Table, message: str, record_id: str, changed: dict[str, Any], user_id: str) -> str | None:
        if self.on_change is None:
            return None
        if self._deferred is not None:  # a change set fires its events only once it commits
            self._deferred.append((table, message, record_id, changed, user_id))
            return None
        return self.on_change(table.logical_name, message, record_id, changed, user_id, False)

    def get(self, entity_set: str, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.rows[entity_set].get(record_id.lower())
            return deepcopy(row) if row else None

    def navigate(self, row: Mapping[str, Any], navigation: str) -> list[Mapping[str, Any]]:
        if not navigation.endswith("_activity_parties") or not row.get("activityid"):
            return []
        return self.parties(str(row["activityid"]))

    def parties(self, activity_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(p) for p in self._parties.get(activity_id, {}).values()]

    # -- the Web API ---------------------------------------------------------------------
    def handle(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
               body: bytes) -> ApiResult:
        try:
            return self._dispatch(method.upper(), path, query, {k.lower(): v for k, v in headers.items()}, body)
        except DataverseError as error:
            return error.result()
        except ODataError as error:
            return DataverseError(400, "0x80060888", str(error)).result()

    def _dispatch(self, method: str, path: str, query: Mapping[str, str], headers: dict[str, str],
                  body: bytes) -> ApiResult:
        for fault in list(self.fail_next):
            if fault[0] in path:
                self.fail_next.remove(fault)
                raise DataverseError(fault[1], "0x80040216", "An unexpected error occurred (injected fault).")
        if path == "WhoAmI" and method == "GET":
            return ApiResult(200, {"@odata.context": f"{self.api_root}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                                   "BusinessUnitId": self.business_unit_id, "UserId": self.application_user_id,
                                   "OrganizationId": self.organization_id})
        if path == "PublishXml" and method == "POST":
            self.published.append(str(_json(body).get("ParameterXml", "")))
            return ApiResult(204)
        if path == "InsertOptionValue" and method == "POST":
            return self._insert_option_value(_json(body))
        if path.startswith("EntityDefinitions("):
            return self._metadata(method, path, headers, body)
        match = _KEYED.match(path)
        entity_set, key, rest = (match["set"], match["key"], match["rest"]) if match else (path, None, None)
        if entity_set not in TABLES:
            raise DataverseError(404, "0x80060888", f"Resource not found for the segment '{entity_set}'.")
        table = TABLES[entity_set]
        if key is None:
            if method == "GET":
                return self._query(table, query, headers)
            if method == "POST":
                return self._create(table, _json(body), headers)
            raise DataverseError(405, "0x80060888", f"The HTTP method '{method}' is not allowed on a collection.")
        record_id = key.strip("'").lower()
        if rest == "/serviceendpoint_sdkmessageprocessingstep" and method == "GET":
            steps = [r for r in self._all("sdkmessageprocessingsteps") if r.get("_eventhandler_value") == record_id]
            return self._page(TABLES["sdkmessageprocessingsteps"], steps, query, headers)
        if rest:
            raise DataverseError(404, "0x80060888", f"Resource not found for the segment '{rest}'.")
        if method == "GET":
            row = self.get(entity_set, record_id)
            if row is None:
                raise _not_found(table, record_id)
            return ApiResult(200, self._shape(table, row, query.get("$select"), headers))
        if method == "PATCH":
            return self._patch(table, record_id, _json(body), headers)
        if method == "DELETE":
            if not self.delete(entity_set, record_id, user_id=self.application_user_id):
                raise _not_found(table, record_id)
            return ApiResult(204)
        raise DataverseError(405, "0x80060888", f"The HTTP method '{method}' is not allowed here.")

    # -- rows ------------------------------------------------------------------------------
    def _all(self, entity_set: str) -> list[dict[str, Any]]:
        with self.lock:
            return [deepcopy(r) for r in self.rows[entity_set].values()]

    def _query(self, table: Table, query: Mapping[str, str], headers: Mapping[str, str]) -> ApiResult:
        columns = set(table.columns) | (set(self.attributes) if table.logical_name == "contact" else set())
        predicate = compile_filter(query.get("$filter"), self.navigate, columns, table.logical_name)
        with self.lock:  # filter the live rows, copy only the matches
            rows = [deepcopy(r) for r in self.rows[table.entity_set].values() if predicate(r)]
        rows = sort_rows(rows, query.get("$orderby") or table.primary_id)
        if "$top" in query:
            rows = rows[: int(query["$top"])]
        return self._page(table, rows, query, headers)

    def _page(self, table: Table, rows: list[Any], query: Mapping[str, str], headers: Mapping[str, str]) -> ApiResult:
        size = 5000
        match = re.search(r"odata\.maxpagesize=(\d+)", headers.get("prefer", ""))
        if match:
            size = max(1, min(5000, int(match.group(1))))
        offset = int(query.get("$skiptoken", "0") or 0)
        page = rows[offset: offset + size]
        body: dict[str, Any] = {"@odata.context": f"{self.api_root}$metadata#{table.entity_set}",
                                "value": [self._shape(table, r, query.get("$select"), headers) for r in page]}
        if query.get("$count") == "true":
            body["@odata.count"] = len(rows)
        if offset + size < len(rows):
            next_query = {k: v for k, v in query.items() if k != "$skiptoken"} | {"$skiptoken": str(offset + size)}
            body["@odata.nextLink"] = f"{self.api_root}{table.entity_set}?{urlencode(next_query, quote_via=quote)}"
        return ApiResult(200, body, {"Preference-Applied": f"odata.maxpagesize={size}"} if match else {})

    def _shape(self, table: Table, row: Mapping[str, Any], select: str | None,
               headers: Mapping[str, str]) -> dict[str, Any]:
        shaped = select_columns(row, select, (table.primary_id,))
        shaped["@odata.etag"] = f'W/"{row.get("versionnumber", 1)}"'
        if _wants_formatted_values(headers.get("prefer", "")):
            for column in [c for c in shaped if c in LOOKUP_NAMES and shaped[c]]:
                name = self._lookup_name(column, str(shaped[column]))
                if name is not None:
                    shaped[f"{column}@{FORMATTED_VALUE}"] = name
        return shaped

    def _lookup_name(self, column: str, record_id: str) -> str | None:
        """A lookup's formatted value: the primary name of the row it points at."""
        with self.lock:
            for entity_set, name_column in LOOKUP_NAMES[column]:
                target = self.rows[entity_set].get(record_id.lower())
                if target is not None:
                    return target.get(name_column)
        return None

    def _columns(self, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name.startswith("@odata"):
                continue
            if name.endswith("@odata.bind"):
                navigation = name[: -len("@odata.bind")]
                target = BIND_TARGETS.get(navigation)
                match = re.search(r"\(([^)]+)\)", str(value))
                if target is None or match is None:
                    raise DataverseError(400, "0x80060888", f"Undeclared property '{navigation}' in the payload.")
                out[target] = match.group(1).lower()
                continue
            if name not in table.columns and not (table.logical_name == "contact" and name in self.attributes):
                raise DataverseError(
                    400, "0x80060888",
                    f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table.logical_name}'.")
            if table.logical_name == "contact" and name in self.attributes:
                self._validate(self.attributes[name], value)
            out[name] = value
        return out

    def _validate(self, attribute: Mapping[str, Any], value: Any) -> None:
        if value is None:
            return
        kind, name = attribute["AttributeType"], attribute["LogicalName"]
        if kind == "Picklist":
            allowed = {o["Value"] for o in attribute["OptionSet"]["Options"]}
            if not isinstance(value, int) or value not in allowed:
                raise DataverseError(400, "0x8004431A",
                                     f"A validation error occurred. The value {value} of '{name}' on record of type "
                                     "'contact' is outside the valid range.")
        elif kind in ("Decimal", "Integer"):
            if not isinstance(value, int | float) or isinstance(value, bool) or not (
                    attribute["MinValue"] <= value <= attribute["MaxValue"]):
                raise DataverseError(400, "0x80044331",
                                     f"A validation error occurred. The value {value} of '{name}' on record of type "
                                     f"'contact' is outside the valid range. Accepted Range: {attribute['MinValue']} "
                                     f"to {attribute['MaxValue']}.")
        elif kind == "Memo" and len(str(value)) > int(attribute.get("MaxLength", 2000)):
            raise DataverseError(400, "0x80044331", f"A validation error occurred. The length of the '{name}' "
                                 f"attribute of the 'contact' entity exceeded the maximum allowed length of "
                                 f"'{attribute['MaxLength']}'.")
        elif kind == "DateTime":
            try:
                datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise DataverseError(400, "0x80060888", f"Cannot convert the literal '{value}' to the expected "
                                     "type 'Edm.DateTimeOffset'.") from None

    def _create(self, table: Table, values: Mapping[str, Any], headers: Mapping[str, str]) -> ApiResult:
        if table.entity_set == "solutions":
            self._check_unique(table, "uniquename", values.get("uniquename"))
        if table.entity_set == "publishers":
            self._check_unique(table, "uniquename", values.get("uniquename"))
        record_id = self.insert(table.entity_set, self._columns(table, values), user_id=self.application_user_id)
        return ApiResult(204, headers={"OData-EntityId": f"{self.api_root}{table.entity_set}({record_id})"})

    def _check_unique(self, table: Table, column: str, value: Any) -> None:
        if any(r.get(column) == value for r in self._all(table.entity_set)):
            raise DataverseError(412, "0x80040237", f"A record with {column} '{value}' already exists.")

    def _patch(self, table: Table, record_id: str, values: Mapping[str, Any], headers: Mapping[str, str]) -> ApiResult:
        columns = self._columns(table, values)
        exists = self.get(table.entity_set, record_id) is not None
        if not exists:
            if headers.get("if-match") == "*":  # update only: never create by accident
                raise _not_found(table, record_id)
            self.insert(table.entity_set, columns, user_id=self.application_user_id, record_id=record_id)
        else:
            self.update(table.entity_set, record_id, columns, user_id=self.application_user_id)
        return ApiResult(204, headers={"OData-EntityId": f"{self.api_root}{table.entity_set}({record_id})"})

    # -- metadata ------------------------------------------------------------------------------
    def _metadata(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> ApiResult:
        match = re.match(r"^EntityDefinitions\(LogicalName='(?P<entity>\w+)'\)/Attributes"
                         r"(?:\(LogicalName='(?P<attr>\w+)'\))?(?P<cast>/Microsoft\.Dynamics\.CRM\.\w+)?$", path)
        if not match or match["entity"] != "contact":
            raise DataverseError(404, "0x80060888", f"Resource not found for the segment '{path}'.")
        if method == "GET" and match["attr"]:
            attribute = self.attributes.get(match["attr"])
            if attribute is None:
                raise DataverseError(404, "0x80040217", f"Could not find attribute with LogicalName "
                                     f"'{match['attr']}' on entity 'contact'.")
            return ApiResult(200, deepcopy(attribute))
        if method == "POST" and not match["attr"]:
            return self._create_attribute(_json(body), headers)
        raise DataverseError(405, "0x80060888", f"The HTTP method '{method}' is not allowed here.")

    def _solution(self, unique_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        solution = next((s for s in self._all("solutions") if s.get("uniquename") == unique_name), None)
        if solution is None:
            raise DataverseError(404, "0x8004F016", f"The solution '{unique_name}' does not exist.")
        publisher = self.get("publishers", solution["_publisherid_value"]) or {}
        return solution, publisher

    def _create_attribute(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> ApiResult:
        kind = _ATTRIBUTE_TYPES.get(str(payload.get("@odata.type", "")))
        schema_name = str(payload.get("SchemaName", ""))
        if kind is None or not schema_name:
            raise DataverseError(400, "0x80060888", "An attribute definition needs a supported @odata.type and "
                                 "a SchemaName.")
        solution_name = headers.get("mscrm.solutionuniquename")
        prefix = "new"
        if solution_name:
            _, publisher = self._solution(solution_name)
            prefix = publisher.get("customizationprefix", "new")
        if not schema_name.lower().startswith(prefix.lower() + "_"):
            raise DataverseError(400, "0x80044184", f"The schema name {schema_name} for type Attribute is not "
                                 f"prefixed with the publisher prefix '{prefix}_'.")
        logical = schema_name.lower()
        if logical in self.attributes:
            raise DataverseError(400, "0x80047013", f"An attribute with the specified name {logical} already exists.")
        attribute = {**deepcopy(dict(payload)), "LogicalName": logical, "MetadataId": str(uuid.uuid4()),
                     "AttributeType": kind, "IsCustomAttribute": True, "SolutionUniqueName": solution_name}
        if kind == "Picklist":
            options = attribute.get("OptionSet", {}).get("Options", [])
            if not options or any(not isinstance(o.get("Value"), int) for o in options):
                raise DataverseError(400, "0x80060888", "A choice column needs options with integer values.")
        if kind == "Memo":
            attribute.setdefault("MaxLength", 2000)
        with self.lock:
            self.attributes[logical] = attribute
        return ApiResult(204, headers={
            "OData-EntityId": f"{self.api_root}EntityDefinitions(LogicalName='contact')/Attributes"
                              f"({attribute['MetadataId']})"})

    def _insert_option_value(self, payload: Mapping[str, Any]) -> ApiResult:
        attribute = self.attributes.get(str(payload.get("AttributeLogicalName", "")))
        if attribute is None or attribute["AttributeType"] != "Picklist":
            raise DataverseError(404, "0x80040217", "The choice column named in AttributeLogicalName was not found.")
        value = payload.get("Value")
        options = attribute["OptionSet"]["Options"]
        if any(o["Value"] == value for o in options):
            raise DataverseError(400, "0x80047013", f"An option with the value {value} already exists.")
        options.append({"Value": value, "Label": payload.get("Label")})
        return ApiResult(200, {"NewOptionValue": value})


def _wants_formatted_values(prefer: str) -> bool:
    """``Prefer: odata.include-annotations="..."`` naming the formatted-value annotation (or ``*``)."""
    match = re.search(r'odata\.include-annotations="([^"]*)"', prefer)
    return bool(match) and any(a.strip() in ("*", FORMATTED_VALUE, "OData.Community.Display.V1.*")
                               for a in match.group(1).split(","))


def _json(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise DataverseError(400, "0x80060888", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise DataverseError(400, "0x80060888", "The request body must be a JSON object.")
    return data


def _not_found(table: Table, record_id: str) -> DataverseError:
    return DataverseError(404, "0x80040217", f"{table.logical_name} With Id = {record_id} Does Not Exist")


# -- HTTP front door ------------------------------------------------------------------------------
def create_app(org: DataverseOrg, calls: list[tuple[str, str]]) -> Flask:
    app = Flask("sandbox-dataverse")

    def render(result: ApiResult) -> Response:
        if result.status == 204 or result.body is None:
            response = Response(status=result.status)
        elif isinstance(result.body, bytes):
            response = Response(result.body, status=result.status, content_type=result.content_type)
        else:
            response = Response(json.dumps(result.body), status=result.status, content_type=result.content_type)
        response.headers["OData-Version"] = "4.0"
        for name, value in result.headers.items():
            response.headers[name] = value
        return response

    def throttled(code: str, message: str, retry_after: float) -> Response:
        response = render(DataverseError(429, code, message).result())
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response

    @app.route(API_PREFIX + "<path:path>", methods=["GET", "POST", "PATCH", "DELETE"])
    def api(path: str) -> Response:
        calls.append((request.method, "/" + API_PREFIX.strip("/") + "/" + path))
        # the URL as sent (still percent-encoded), scheme and host included
        url_length = len(request.host_url.rstrip("/")) + len(request.environ.get("RAW_URI") or request.full_path)
        if url_length > MAX_URL_LENGTH:
            return render(_url_too_long(url_length, MAX_URL_LENGTH).result())
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if not token or org.directory.check(token, org.base_url) is None:
            response = Response(status=401)
            response.headers["WWW-Authenticate"] = (
                f'Bearer authorization_uri=https://login.microsoftonline.com/{org.directory.tenant_id}'
                f'/oauth2/authorize, resource_id={org.base_url}')
            return response
        with org._flight_lock:
            if org._in_flight >= org.max_concurrent:
                return throttled("0x80072326",
                                 f"Number of concurrent requests exceeded the limit of {org.max_concurrent}.", 1)
            org._in_flight += 1
        try:
            allowed, _, wait = org.limiter.try_acquire()
            if not allowed:
                return throttled("0x80072322", f"Number of requests exceeded the limit of {org.requests_per_window} "
                                 f"over time window of {int(org.window_seconds)} seconds.", wait)
            if path == "$batch" and request.method == "POST":
                return batch()
            query = {k: v for k, v in request.args.items()}
            return render(org.handle(request.method, path, query, dict(request.headers), request.get_data()))
        finally:
            with org._flight_lock:
                org._in_flight -= 1

    def batch() -> Response:
        try:
            items = parse_batch(request.get_data(), request.headers.get("Content-Type", ""))
        except (BatchFormatError, UnicodeDecodeError) as error:
            return render(DataverseError(400, "0x80060888", f"The batch request is malformed: {error}").result())
        count = sum(len(i.changeset) if i.is_changeset else 1 for i in items)
        if count > MAX_BATCH_REQUESTS:
            return render(DataverseError(400, "0x80060888", f"The batch contains {count} requests; the maximum is "
                                         f"{MAX_BATCH_REQUESTS}.").result())
        continue_on_error = "odata.continue-on-error" in request.headers.get("Prefer", "")
        results: list[InnerResponse | list[InnerResponse]] = []
        failed = False
        for item in items:
            if item.is_changeset:
                outcome = _run_changeset(org, item.changeset)
            else:
                assert item.request is not None
                outcome = _run_one(org, item.request)
            results.append(outcome)
            last = outcome if isinstance(outcome, InnerResponse) else None
            if last is not None and last.status >= 400:
                failed = True
                if not continue_on_error:
                    break
        content_type, body = render_batch(results)
        status = 400 if failed and not continue_on_error else 200
        return Response(body, status=status, content_type=content_type, headers={"OData-Version": "4.0"})

    return app


def _inner_path(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    path = parts.path
    if API_PREFIX in path:
        path = path.split(API_PREFIX, 1)[1]
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return path.lstrip("/"), query


def _reason(status: int) -> str:
    return {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
            412: "Precondition Failed", 414: "URI Too Long", 429: "Too Many Requests"}.get(status, "Error")


def _to_inner(result: ApiResult, content_id: str | None) -> InnerResponse:
    headers = dict(result.headers)
    body = b""
    if result.body is not None and result.status != 204:
        headers["Content-Type"] = result.content_type
        body = result.body if isinstance(result.body, bytes) else json.dumps(result.body).encode()
    return InnerResponse(result.status, _reason(result.status), headers, body, content_id)


def _url_too_long(length: int, limit: int) -> DataverseError:
    return DataverseError(414, "0x80060888", f"The request URL is {length} characters long; the maximum is {limit}.")


def _run_one(org: DataverseOrg, inner: Any) -> InnerResponse:
    if len(inner.url) > MAX_BATCH_URL_LENGTH:
        return _to_inner(_url_too_long(len(inner.url), MAX_BATCH_URL_LENGTH).result(), inner.content_id)
    path, query = _inner_path(inner.url)
    return _to_inner(org.handle(inner.method, path, query, inner.headers, inner.body), inner.content_id)


def _run_changeset(org: DataverseOrg, requests: list[Any]) -> InnerResponse | list[InnerResponse]:
    with org.lock:  # atomic: snapshot, apply all, roll back everything on the first failure
        snapshot = deepcopy(org.rows)
        org._deferred = []
        responses: list[InnerResponse] = []
        try:
            for inner in requests:
                response = _run_one(org, inner)
                if response.status >= 400:
                    org.rows = snapshot
                    return response
                responses.append(response)
            deferred = org._deferred
        finally:
            org._deferred = None
    for event in deferred:
        org._notify(*event)
    return responses
