"""The Salesforce sandbox's HTTP surface, on the real paths and with the real shapes.

Login: ``POST /services/oauth2/token`` (JWT bearer, checked against the connected app's
registered key), ``POST /services/Soap/u/<v>`` (SOAP ``login`` with password + security
token), ``GET /services/oauth2/userinfo``. REST under ``/services/data/v<v>/``: ``query``
with ``nextRecordsUrl`` paging, ``sobjects`` CRUD, ``composite/sobjects`` (200 records,
``allOrNone``), ``limits`` and the Tooling API ``tooling/query`` + ``tooling/sobjects/CustomField``.
Every REST answer carries ``Sforce-Limit-Info: api-usage=n/m``; past the daily allocation the
API answers 403 ``REQUEST_LIMIT_EXCEEDED`` as the real one does. A request URI longer than
16,384 bytes is refused with 414 before it counts against the allocation (Salesforce knowledge
article 000386264: "the maximum length for the combined URI and headers is 16,384 bytes ... If
the URI itself exceeds this limit, the request returns a 414 URI Too Long error").
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from flask import Flask, Response, request

from .auth import JwtError, b64url_decode, public_key_from_pem, verify_rs256
from .soql import SoqlError, execute, parse
from .store import STANDARD_OBJECTS, CustomFieldDef, OrgStore, SalesforceApiError, is_read_only
from .validate import validate_custom_value, validate_field_metadata

AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
MAX_COLLECTION = 200
MAX_URI_BYTES = 16_384
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER_NS = "urn:partner.soap.sforce.com"


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


class SalesforceApi:
    """Routes and their state: sessions, connected apps, query cursors, API usage."""

    def __init__(self, store: OrgStore, *, api_version: str = "59.0", daily_limit: int = 15000,
                 calls: list[tuple[str, str]] | None = None) -> None:
        self.store = store
        self.api_version = api_version
        self.daily_limit = daily_limit
        self.used = 0
        self.calls = calls if calls is not None else []
        self.sessions: dict[str, str] = {}  # access token -> user id
        self.connected_apps: dict[str, tuple[int, int]] = {}  # consumer key -> RSA public key
        self.passwords: dict[str, str] = {}  # username -> password + security token
        self.query_batch_size = 2000
        self.fail_next_writes: dict[str, tuple[str, str]] = {}  # record id15 -> (statusCode, message)
        self._cursors: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        self._cursor_ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- setup helpers (used by SalesforceSandbox) -----------------------------------------
    def register_connected_app(self, consumer_key: str, public_key_pem: str) -> None:
        self.connected_apps[consumer_key] = public_key_from_pem(public_key_pem)

    def issue_session(self, user_id: str) -> str:
        token = f"{self.store.org_id[:15]}!{secrets.token_urlsafe(32)}"
        self.sessions[token] = user_id
        return token

    # -- app ------------------------------------------------------------------------------
    def register(self, app: Flask) -> None:
        app.add_url_rule("/services/oauth2/token", "sf_token", self.token, methods=["POST"])
        app.add_url_rule("/services/oauth2/userinfo", "sf_userinfo", self.userinfo, methods=["GET", "POST"])
        app.add_url_rule("/services/Soap/u/<version>", "sf_soap_login", self.soap_login, methods=["POST"])
        app.add_url_rule("/services/data/v<version>/<path:path>", "sf_rest", self.rest,
                         methods=["GET", "POST", "PATCH", "DELETE"])
        app.add_url_rule("/services/data/v<version>/", "sf_rest_root", self.rest, methods=["GET"],
                         defaults={"path": ""})

    # -- login ----------------------------------------------------------------------------
    def token(self) -> Response:
        self.calls.append(("POST", "/services/oauth2/token"))
        grant = request.form.get("grant_type", "")
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _json({"error": "unsupported_grant_type", "error_description": "grant type not supported"}, 400)
        assertion = request.form.get("assertion", "")
        try:
            unverified = json.loads(_b64_part(assertion, 1))
            key = self.connected_apps.get(str(unverified.get("iss")))
            if key is None:
                return _json({"error": "invalid_client_id", "error_description": "client identifier invalid"}, 400)
            claims = verify_rs256(assertion, key)
        except (JwtError, ValueError, AttributeError):
            return _json({"error": "invalid_grant", "error_description": "invalid assertion"}, 400)
        if claims.get("aud") not in AUDIENCES:
            return _json({"error": "invalid_grant", "error_description": "audience is invalid"}, 400)
        try:
            expires = float(claims.get("exp", 0))
        except (TypeError, ValueError):
            expires = 0
        if expires < time.time():
            return _json({"error": "invalid_grant", "error_description": "expired authorization code"}, 400)
        user = self._user_by_username(str(claims.get("sub", "")))
        if user is None:
            return _json({"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}, 400)
        token = self.issue_session(user["Id"])
        base = request.host_url.rstrip("/")
        return _json({"access_token": token, "scope": "api", "instance_url": base,
                      "id": f"{base}/id/{self.store.org_id}/{user['Id']}", "token_type": "Bearer"})

    def soap_login(self, version: str) -> Response:
        self.calls.append(("POST", f"/services/Soap/u/{version}"))
        if b"<!DOCTYPE" in request.get_data()[:2048].upper():
            return self._login_fault("INVALID_LOGIN", "DTDs are not allowed")
        try:
            root = ElementTree.fromstring(request.get_data())
        except ElementTree.ParseError:
            return self._login_fault("INVALID_LOGIN", "malformed request")
        username = _find_text(root, "username")
        password = _find_text(root, "password")
        user = self._user_by_username(username or "")
        expected = self.passwords.get((username or "").lower())
        if user is None or expected is None or expected != password:
            return self._login_fault("INVALID_LOGIN",
                                     "Invalid username, password, security token; or user locked out.")
        token = self.issue_session(user["Id"])
        base = request.host_url.rstrip("/")
        org = self.store.org_id
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
            f'xmlns="{PARTNER_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            f"<loginResponse><result><metadataServerUrl>{base}/services/Soap/m/{version}/{org}</metadataServerUrl>"
            f"<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
            f"<serverUrl>{base}/services/Soap/u/{version}/{org}</serverUrl><sessionId>{token}</sessionId>"
            f"<userId>{user['Id']}</userId><userInfo><organizationId>{org}</organizationId>"
            f"<userName>{escape(user['Username'])}</userName></userInfo></result></loginResponse>"
            f"</soapenv:Body></soapenv:Envelope>")
        return Response(body, status=200, mimetype="text/xml")

    @staticmethod
    def _login_fault(code: str, message: str) -> Response:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
            f'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
            f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring><detail>"
            f"<sf:LoginFault><sf:exceptionCode>{code}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail>"
            f"</soapenv:Fault></soapenv:Body></soapenv:Envelope>")
        return Response(body, status=500, mimetype="text/xml")

    def userinfo(self) -> Response:
        self.calls.append((request.method, "/services/oauth2/userinfo"))
        user_id = self._session_user()
        if user_id is None:
            return Response("Bad_OAuth_Token", status=403, mimetype="text/plain")
        user = self.store.get("User", user_id) or {}
        base = request.host_url.rstrip("/")
        return _json({"sub": f"{base}/id/{self.store.org_id}/{user_id}", "user_id": user_id,
                      "organization_id": self.store.org_id, "preferred_username": user.get("Username"),
                      "name": user.get("Name"), "email": user.get("Email")})

    def _user_by_username(self, username: str) -> dict[str, Any] | None:
        for user in self.store.records["User"].values():
            if str(user["Username"]).lower() == username.lower() and user.get("IsActive"):
                return user
        return None

    def _session_user(self) -> str | None:
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else request.values.get("oauth_token", "")
        return self.sessions.get(token)

    # -- REST -----------------------------------------------------------------------------
    def rest(self, version: str, path: str) -> Response:
        self.calls.append((request.method, f"/services/data/v{version}/{path}"))
        uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
        if len(uri.encode()) > MAX_URI_BYTES:
            return Response("URI Too Long", status=414, mimetype="text/plain")
        user_id = self._session_user()
        if user_id is None:
            return _json([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], 401)
        with self._lock:
            if self.used >= self.daily_limit:
                response = _json([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                                 403)
                return self._with_usage(response)
            self.used += 1
        try:
            response = self._dispatch(version, path.rstrip("/"), user_id)
        except SalesforceApiError as error:
            response = _json(error.body(), error.status)
        except SoqlError as error:
            response = _json([{"message": error.message, "errorCode": error.code}], 400)
        return self._with_usage(response)

    def _with_usage(self, response: Response) -> Response:
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.used}/{self.daily_limit}"
        return response

    def _dispatch(self, version: str, path: str, user_id: str) -> Response:
        method = request.method
        parts = path.split("/") if path else []
        routes: list[tuple[str, str, Callable[..., Response]]] = [
            ("GET", r"query", lambda: self._query(version, user_id, tooling=False)),
            ("GET", r"query/([\w-]+)", lambda cursor: self._query_more(version, cursor)),
            ("GET", r"tooling/query", lambda: self._query(version, user_id, tooling=True)),
            ("GET", r"tooling/query/([\w-]+)", lambda cursor: self._query_more(version, cursor)),
            ("POST", r"tooling/sobjects/CustomField", self._tooling_create),
            ("GET", r"tooling/sobjects/CustomField/(\w+)", self._tooling_get),
            ("PATCH", r"tooling/sobjects/CustomField/(\w+)", self._tooling_update),
            ("GET", r"limits", self._limits),
            ("GET", r"sobjects", self._describe_global),
            ("PATCH", r"composite/sobjects", lambda: self._collection(user_id, create=False)),
            ("POST", r"composite/sobjects", lambda: self._collection(user_id, create=True)),
            ("GET", r"sobjects/(\w+)/describe", self._describe),
            ("POST", r"sobjects/(\w+)", lambda name: self._create_one(name, user_id)),
            ("GET", r"sobjects/(\w+)/(\w+)", lambda name, rid: self._get_one(name, rid, user_id)),
            ("PATCH", r"sobjects/(\w+)/(\w+)", lambda name, rid: self._update_one(name, rid, user_id)),
            ("DELETE", r"sobjects/(\w+)/(\w+)", self._delete_one),
        ]
        joined = "/".join(parts)
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, joined)
            if match and verb == method:
                return handler(*match.groups())
        if not joined:
            base = f"/services/data/v{version}"
            return _json({"sobjects": f"{base}/sobjects", "query": f"{base}/query", "limits": f"{base}/limits"})
        raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _body(self) -> Any:
        try:
            return json.loads(request.get_data() or b"null")
        except ValueError as exc:
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Unexpected character in JSON body") from exc

    # queries
    def _query(self, version: str, user_id: str, *, tooling: bool) -> Response:
        soql = request.args.get("q", "")
        if not soql:
            raise SalesforceApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        rows = self._tooling_rows(soql) if tooling else self.store.query(soql, user_id)
        for row in rows:
            _versioned_urls(row, f"/services/data/v{version}/{'tooling/' if tooling else ''}")
        size = self._batch_size()
        return _json(self._page(version, rows, 0, size, tooling))

    def _batch_size(self) -> int:
        size = self.query_batch_size
        match = re.search(r"batchSize=(\d+)", request.headers.get("Sforce-Query-Options", ""))
        if match:
            size = min(size, max(200, min(2000, int(match.group(1)))))
        return size

    def _page(self, version: str, rows: list[dict[str, Any]], start: int, size: int, tooling: bool) -> dict[str, Any]:
        chunk = rows[start:start + size]
        page: dict[str, Any] = {"totalSize": len(rows), "done": start + size >= len(rows), "records": chunk}
        if not page["done"]:
            locator = f"01g8d{next(self._cursor_ids):010d}"
            self._cursors[locator] = (f"{version}|{int(tooling)}|{size}", rows)
            page["nextRecordsUrl"] = (f"/services/data/v{version}/{'tooling/' if tooling else ''}query/"
                                      f"{locator}-{start + size}")
        return page

    def _query_more(self, version: str, cursor: str) -> Response:
        locator, _, offset = cursor.partition("-")
        entry = self._cursors.get(locator)
        if entry is None or not offset.isdigit():
            raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        meta, rows = entry
        _, tooling, size = meta.split("|")
        return _json(self._page(version, rows, int(offset), int(size), tooling == "1"))

    def _limits(self) -> Response:
        return _json({"DailyApiRequests": {"Max": self.daily_limit, "Remaining": max(0, self.daily_limit - self.used)}})

    def _describe_global(self) -> Response:
        return _json({"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION,
                      "sobjects": [{"name": name, "keyPrefix": prefix, "queryable": True}
                                   for name, (prefix, _) in STANDARD_OBJECTS.items()]})

    def _describe(self, name: str) -> Response:
        sobject = self.store.canonical_object(name)
        return _json({"name": sobject, "fields": [{"name": f} for f in self.store.field_names(sobject)]})

    # records
    def _create_one(self, name: str, user_id: str) -> Response:
        sobject = self.store.canonical_object(name)
        values = self._checked_values(sobject, self._body(), user_id, creating=True)
        record_id = self.store.insert(sobject, values, user_id=user_id)
        return _json({"id": record_id, "success": True, "errors": []}, 201)

    def _get_one(self, name: str, record_id: str, user_id: str) -> Response:
        sobject = self.store.canonical_object(name)
        record = self.store.get(sobject, record_id)
        if record is None:
            raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
        visible = {k: v for k, v in record.items() if self.store.can_access(user_id, sobject, k, edit=False)}
        return _json({"attributes": {"type": sobject}, **visible})

    def _update_one(self, name: str, record_id: str, user_id: str) -> Response:
        sobject = self.store.canonical_object(name)
        values = self._checked_values(sobject, self._body(), user_id, creating=False)
        self.store.update(sobject, record_id, values, user_id=user_id)
        return Response(status=204)

    def _delete_one(self, name: str, record_id: str) -> Response:
        sobject = self.store.canonical_object(name)
        if self.store.get(sobject, record_id) is None:
            raise SalesforceApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        self.store.delete(sobject, record_id)
        return Response(status=204)

    def _checked_values(self, sobject: str, body: Any, user_id: str, *, creating: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        values: dict[str, Any] = {}
        resolve = self.store.resolver(sobject, user_id, edit=True)
        for key, value in body.items():
            if key in ("attributes", "id") or (key == "Id" and not creating):
                continue
            try:
                canonical = resolve(key)
            except SoqlError as exc:
                raise SalesforceApiError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type "
                                         f"{sobject}", [key]) from exc
            if is_read_only(sobject, canonical):
                raise SalesforceApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                                         f"Unable to create/update fields: {canonical}. Please check the security "
                                         "settings of this field and verify that it is read/write for your profile "
                                         "or permission set.", [canonical])
            definition = self.store.custom_field(sobject, canonical)
            if definition is not None:
                validate_custom_value(definition, value)
            values[canonical] = value
        return values

    def _collection(self, user_id: str, *, create: bool) -> Response:
        body = self._body()
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected {\"allOrNone\", \"records\": [...]}")
        records = body["records"]
        if len(records) > MAX_COLLECTION:
            raise SalesforceApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 "
                                     "records into this call")
        all_or_none = bool(body.get("allOrNone", False))
        results: list[dict[str, Any]] = []
        planned: list[tuple[str, str | None, dict[str, Any]]] = []
        for record in records:
            try:
                planned.append(self._plan_collection_item(record, user_id, create))
                results.append({"success": True, "errors": []})
            except SalesforceApiError as error:
                planned.append(("", None, {}))
                results.append({"success": False, "errors": [{"statusCode": error.code, "message": error.message,
                                                               "fields": error.fields}]})
        if all_or_none and any(not r["success"] for r in results):
            return _json([r if not r["success"] else
                          {"success": False, "errors": [{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                                         "message": "Record rolled back because not all records "
                                                                    "were valid and the request was using AllOrNone "
                                                                    "header", "fields": []}]}
                          for r in results])
        for (sobject, record_id, values), result in zip(planned, results, strict=True):
            if not result["success"]:
                continue
            if create:
                result["id"] = self.store.insert(sobject, values, user_id=user_id)
            else:
                self.store.update(sobject, record_id or "", values, user_id=user_id)
                result["id"] = self.store.get(sobject, record_id or "")["Id"]  # type: ignore[index]
        return _json([{"id": r["id"], **r} if "id" in r else r for r in results])

    def _plan_collection_item(self, record: Any, user_id: str, create: bool) -> tuple[str, str | None, dict[str, Any]]:
        if not isinstance(record, dict) or not isinstance(record.get("attributes"), dict):
            raise SalesforceApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        sobject = self.store.canonical_object(str(record["attributes"].get("type", "")))
        record_id = None
        if not create:
            record_id = str(record.get("id") or record.get("Id") or "")
            if len(record_id) not in (15, 18) or not record_id.isalnum():
                raise SalesforceApiError(400, "MALFORMED_ID", f"Contact ID: id value of incorrect type: {record_id}",
                                         ["Id"])
            if self.store.get(sobject, record_id) is None:
                raise SalesforceApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
            injected = self.fail_next_writes.pop(record_id[:15], None)
            if injected:
                raise SalesforceApiError(400, injected[0], injected[1], [])
        return sobject, record_id, self._checked_values(sobject, record, user_id, creating=create)

    # tooling
    def _tooling_rows(self, soql: str) -> list[dict[str, Any]]:
        parsed = parse(soql)
        if parsed.sobject.lower() != "customfield":
            raise SalesforceApiError(400, "INVALID_TYPE", f"sObject type '{parsed.sobject}' is not supported.")
        rows = [self._tooling_view(d) for d in self.store.custom_fields.values()]
        names = {n.lower(): n for n in ("Id", "DeveloperName", "TableEnumOrId", "FullName", "Metadata",
                                        "CreatedDate", "NamespacePrefix")}

        def resolve(name: str) -> str:
            if name.lower() not in names:
                raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity 'CustomField'.")
            return names[name.lower()]
        result = execute(parsed, rows, resolve)
        if any(resolve(f) in ("FullName", "Metadata") for f in parsed.fields) and len(result) > 1:
            raise SalesforceApiError(400, "MALFORMED_QUERY", "When retrieving results with Metadata or FullName "
                                     "fields, the query qualificatio​ns must specify no more than one row for "
                                     "retrieval. Result size: " + str(len(result)))
        for row in result:
            row["attributes"] = {"type": "CustomField"}
        return result

    @staticmethod
    def _tooling_view(definition: CustomFieldDef) -> dict[str, Any]:
        return {"Id": definition.id, "DeveloperName": definition.developer_name, "TableEnumOrId": definition.sobject,
                "FullName": definition.full_name, "Metadata": definition.metadata,
                "CreatedDate": definition.created, "NamespacePrefix": None}

    def _tooling_create(self) -> Response:
        body = self._body()
        if not isinstance(body, dict):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        full_name = str(body.get("FullName") or "")
        match = re.fullmatch(r"(\w+)\.([A-Za-z][A-Za-z0-9_]*?)__c", full_name)
        if not match:
            raise SalesforceApiError(400, "INVALID_FIELD", "FullName must look like Object.Field__c", ["FullName"])
        sobject = self.store.canonical_object(match.group(1))
        metadata = validate_field_metadata(body.get("Metadata"))
        with self.store.lock:
            if self.store.custom_field(sobject, f"{match.group(2)}__c"):
                raise SalesforceApiError(400, "DUPLICATE_DEVELOPER_NAME",
                                         f"There is already a field named {match.group(2)} on {sobject}.")
            field_id = self.store.new_id("00N")
            self.store.custom_fields[field_id] = CustomFieldDef(field_id, sobject, match.group(2), metadata)
        return _json({"id": field_id, "success": True, "errors": [], "warnings": [], "infos": []}, 201)

    def _field_def(self, field_id: str) -> CustomFieldDef:
        for stored_id, definition in self.store.custom_fields.items():
            if stored_id[:15] == field_id[:15]:
                return definition
        raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _tooling_get(self, field_id: str) -> Response:
        view = self._tooling_view(self._field_def(field_id))
        return _json({"attributes": {"type": "CustomField"}, **view})

    def _tooling_update(self, field_id: str) -> Response:
        definition = self._field_def(field_id)
        body = self._body()
        if not isinstance(body, dict):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        if body.get("FullName") and str(body["FullName"]).lower() != definition.full_name.lower():
            raise SalesforceApiError(400, "INVALID_FIELD", "FullName cannot be changed", ["FullName"])
        metadata = validate_field_metadata(body.get("Metadata"))
        if metadata["type"] != definition.metadata["type"]:
            raise SalesforceApiError(400, "FIELD_INTEGRITY_EXCEPTION", "Changing the field type is not supported "
                                     "by this sandbox")
        definition.metadata = metadata
        return Response(status=204)


def _versioned_urls(record: dict[str, Any], base: str) -> None:
    """``/sobjects/X/id`` -> ``/services/data/vNN.N/sobjects/X/id``, nested parent records too."""
    attributes = record.get("attributes") or {}
    record_id = str(attributes["url"]).rsplit("/", 1)[-1] if attributes.get("url") else record.get("Id")
    sobject = attributes.get("type")
    record["attributes"] = {"type": sobject, "url": f"{base}sobjects/{sobject}/{record_id}"}
    for value in record.values():
        if isinstance(value, dict) and isinstance(value.get("attributes"), dict):
            _versioned_urls(value, base)


def _b64_part(token: str, index: int) -> bytes:
    return b64url_decode(token.split(".")[index])


def _find_text(root: ElementTree.Element, local_name: str) -> str | None:
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == local_name:
            return element.text or ""
    return None
