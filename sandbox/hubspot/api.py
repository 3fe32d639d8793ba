"""The Flask app answering on HubSpot's real paths with HubSpot's JSON shapes.

Shapes follow the hubspot-api-client (v12) generated models: ``SimplePublicObject``,
``CollectionResponse...ForwardPaging``, ``BatchResponseSimplePublicObject(WithErrors)``,
``StandardError``, ``Property`` / ``PropertyGroup``, associations v4
``MultiAssociatedObjectWithLabel`` / ``PublicAssociationMultiWithLabel``. Errors use HubSpot's
body ``{"status": "error", "message", "correlationId", "category", ...}``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, redirect, request
from werkzeug.exceptions import HTTPException

from .auth import AuthFailure
from .schema import PROPERTY_NAME, VALID_FIELD_TYPES, ObjectType, PropertyDef, iso_ms, resolve_object_type
from .schema import validation_message as invalid_values_message
from .search import SearchError, search
from .store import Change, HubSpotStore, StoredObject

if TYPE_CHECKING:
    from .sandbox import HubSpotSandbox

MAX_BATCH_INPUTS = 100
MAX_HISTORY_BATCH_INPUTS = 50
MAX_LIST_LIMIT = 100
OWNERS_LIMIT = 500  # the owners API's largest page
MAX_ASSOCIATION_LIMIT = 500
MAX_ASSOCIATION_BATCH_INPUTS = 1000


class ApiError(Exception):
    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.category, self.message, self.extra = status, category, message, extra


def error_body(category: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}


def standard_error(category: str, message: str, context: Mapping[str, list[str]],
                   errors: list[dict[str, Any]] | None = None, sub_category: str | None = None) -> dict[str, Any]:
    """``StandardError`` inside batch responses (the SDK requires context, links and errors)."""
    body: dict[str, Any] = {"status": "error", "category": category, "message": message, "context": dict(context),
                            "errors": errors or [], "links": {}}
    if sub_category:
        body["subCategory"] = sub_category
    return body


def now_iso() -> str:
    return iso_ms(datetime.now(UTC))


def batch_response(results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str,
                   ok_status: int = 200) -> tuple[Response, int]:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": now_iso()}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
        return jsonify(body), 207
    return jsonify(body), ok_status


def build_app(sandbox: HubSpotSandbox) -> Flask:
    app = Flask("hubspot-sandbox")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    for install in (_gate, _oauth_routes, _property_routes, _object_routes, _association_routes, _owner_routes):
        install(app, sandbox)
    return app


def _gate(app: Flask, sandbox: HubSpotSandbox) -> None:
    """Every request: record it, delay, inject a fault, authenticate, rate-limit; errors in HubSpot words."""

    @app.before_request
    def _gate() -> Any:
        with sandbox.lock:
            sandbox.calls.append((request.method, request.path))
        if not request.path.startswith("/crm/"):
            return None
        if sandbox.latency:
            time.sleep(sandbox.latency)
        fault = sandbox.take_fault()
        if fault is not None:
            status, retry_after = fault
            return _fault_response(status, retry_after)
        token = sandbox.tokens.authenticate(request.headers.get("Authorization"))  # raises AuthFailure
        g.token = token
        g.is_search = request.path.endswith("/search")
        allowed, g.remaining, retry_after, policy = sandbox.limits.acquire(search=g.is_search)
        if not allowed:
            body = {"status": "error", "message": f"You have reached your {policy.lower()} limit.",
                    "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()), "policyName": policy,
                    "requestId": str(uuid.uuid4())}
            response = jsonify(body)
            response.status_code = 429
            response.headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
            return response
        return None

    @app.after_request
    def _rate_headers(response: Response) -> Response:
        # Search answers carry no rate-limit headers; OAuth calls carry no daily headers (crm-apis.md §1.6).
        token = g.get("token")
        if token is None or g.get("is_search"):
            return response
        limits = sandbox.limits
        response.headers["X-HubSpot-RateLimit-Max"] = str(limits.burst_limit)
        response.headers["X-HubSpot-RateLimit-Remaining"] = str(g.get("remaining", 0))
        response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(limits.burst_window * 1000))
        if token.kind == "private":
            response.headers["X-HubSpot-RateLimit-Daily"] = str(limits.daily_limit)
            response.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(limits.daily_remaining())
        return response

    @app.errorhandler(AuthFailure)
    def _auth_failed(exc: AuthFailure) -> tuple[Response, int]:
        return jsonify(error_body(exc.category, exc.message)), 401

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        return jsonify(error_body(exc.category, exc.message, **exc.extra)), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        return jsonify(error_body("VALIDATION_ERROR" if status == 400 else "OBJECT_NOT_FOUND" if status == 404
                                  else "METHOD_NOT_ALLOWED" if status == 405 else "INTERNAL_ERROR",
                                  exc.description or exc.name)), status

    @app.errorhandler(ValueError)
    def _bad_value(exc: ValueError) -> tuple[Response, int]:
        # e.g. a non-numeric limit or after: HubSpot answers 400, never 500
        return jsonify(error_body("VALIDATION_ERROR", f"Invalid input: {exc}")), 400


def _fault_response(status: int, retry_after: float | None) -> Response:
    if status == 429:
        response = jsonify({"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                            "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                            "policyName": "TEN_SECONDLY_ROLLING", "requestId": str(uuid.uuid4())})
    else:
        category = {500: "INTERNAL_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
                    504: "GATEWAY_TIMEOUT"}.get(status, "INTERNAL_ERROR")
        response = jsonify(error_body(category, "The server encountered an error; try the request again."))
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(int(retry_after))
    return response


def body_json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "VALIDATION_ERROR", "Invalid input JSON: the request body must be a JSON object.")
    return data


def object_type(name: str) -> ObjectType:
    spec = resolve_object_type(name)
    if spec is None:
        raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
    return spec


def names_param(key: str) -> list[str]:
    names: list[str] = []
    for raw in request.args.getlist(key):
        names.extend(n for n in raw.split(",") if n)
    return names


def visible(spec: ObjectType, requested: list[str] | None) -> list[str]:
    return list(dict.fromkeys(requested)) if requested else list(spec.default_properties)


def find(store: HubSpotStore, spec: ObjectType, object_id: str,
         id_property: str | None) -> StoredObject | None:
    if id_property and id_property != "hs_object_id":
        return store.find_by(spec.name, id_property, object_id)
    return store.get(spec.name, object_id)


def associations_json(store: HubSpotStore, spec: ObjectType, record: StoredObject,
                      to_names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for to_name in to_names:
        to_spec = resolve_object_type(to_name)
        if to_spec is None:
            continue
        ids = store.associated(spec.name, record.id, to_spec.name)
        if ids:
            label = f"{spec.singular}_to_{to_spec.singular}"
            out[to_spec.name] = {"results": [{"id": i, "type": label} for i in ids]}
    return out


def object_json(store: HubSpotStore, spec: ObjectType, record: StoredObject, properties: list[str] | None,
                history: list[str] | None = None, associations: list[str] | None = None) -> dict[str, Any]:
    body = record.to_json(visible(spec, properties), history or ())
    if associations:
        linked = associations_json(store, spec, record, associations)
        if linked:
            body["associations"] = linked
    return body


def _oauth_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    """The OAuth 2.0 endpoints: authorize, token, token info."""

    @app.get("/oauth/authorize")
    def oauth_authorize() -> Any:
        if request.args.get("client_id") != sandbox.tokens.client_id or not request.args.get("redirect_uri"):
            raise ApiError(400, "VALIDATION_ERROR", "Unknown client_id or missing redirect_uri.")
        redirect_uri = request.args["redirect_uri"]
        query = {"code": sandbox.tokens.issue_code(redirect_uri)}
        if "state" in request.args:
            query["state"] = request.args["state"]
        return redirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(query)}", code=302)

    @app.post("/oauth/v1/token")
    def oauth_token() -> tuple[Response, int]:
        if request.mimetype != "application/x-www-form-urlencoded":
            return jsonify({"status": "BAD_REQUEST", "message": "Content-Type must be "
                            "application/x-www-form-urlencoded", "correlationId": str(uuid.uuid4())}), 400
        status, body = sandbox.tokens.exchange(request.form.to_dict())
        if status != 200:
            body["correlationId"] = str(uuid.uuid4())
        return jsonify(body), status

    @app.get("/oauth/v1/access-tokens/<token>")
    def oauth_token_info(token: str) -> tuple[Response, int]:
        info = sandbox.tokens.info(token)
        if info is None:
            return jsonify({"status": "error", "message": "Token not found", "correlationId": str(uuid.uuid4())}), 404
        return jsonify(info), 200


def group_json(group: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": group["name"], "label": group["label"], "displayOrder": group["displayOrder"],
            "archived": group["archived"]}


def check_type_pair(ptype: Any, field_type: Any) -> None:
    if ptype not in VALID_FIELD_TYPES:
        raise ApiError(400, "VALIDATION_ERROR", f"Invalid type '{ptype}'; expected one of "
                       f"{sorted(VALID_FIELD_TYPES)}.")
    if field_type not in VALID_FIELD_TYPES[ptype]:
        raise ApiError(400, "VALIDATION_ERROR", f"fieldType '{field_type}' is not valid for type '{ptype}'; "
                       f"valid fieldType values are {sorted(VALID_FIELD_TYPES[ptype])}.")


def options_from(raw: Any) -> list[dict[str, Any]]:
    options = []
    for i, option in enumerate(raw or []):
        if not isinstance(option, dict) or "label" not in option or "value" not in option:
            raise ApiError(400, "VALIDATION_ERROR", "Each option needs a label and a value.")
        entry = {"label": str(option["label"]), "value": str(option["value"]),
                 "displayOrder": int(option.get("displayOrder", i)), "hidden": bool(option.get("hidden", False))}
        if option.get("description"):
            entry["description"] = str(option["description"])
        options.append(entry)
    return options


def _property_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    """CRM properties v3: groups, definitions, batch create and read."""
    store = sandbox.store

    @app.get("/crm/v3/properties/<ot>/groups")
    def list_groups(ot: str) -> Response:
        spec = object_type(ot)
        with store.lock:
            return jsonify({"results": [group_json(g) for g in store.groups[spec.name].values()]})

    @app.post("/crm/v3/properties/<ot>/groups")
    def create_group(ot: str) -> tuple[Response, int]:
        spec, data = object_type(ot), body_json()
        name, label = data.get("name"), data.get("label")
        if not name or not label:
            raise ApiError(400, "VALIDATION_ERROR", "Property group name and label are required.")
        with store.lock:
            if name in store.groups[spec.name]:
                raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"A property group named '{name}' already exists.")
            group = {"name": name, "label": label, "displayOrder": int(data.get("displayOrder", -1)),
                     "archived": False}
            store.groups[spec.name][name] = group
        return jsonify(group_json(group)), 201

    @app.get("/crm/v3/properties/<ot>/groups/<name>")
    def get_group(ot: str, name: str) -> Response:
        spec = object_type(ot)
        with store.lock:
            group = store.groups[spec.name].get(name)
        if group is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property group {name}")
        return jsonify(group_json(group))

    def new_property(spec: ObjectType, data: Mapping[str, Any]) -> PropertyDef:
        """Validate and store one property definition; raises ApiError as HubSpot answers."""
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not data.get(k)]
        if missing:
            raise ApiError(400, "VALIDATION_ERROR", f"Missing required fields: {', '.join(missing)}")
        name = str(data["name"])
        if not PROPERTY_NAME.match(name):
            raise ApiError(400, "VALIDATION_ERROR", f"Property name '{name}' must start with a lowercase letter and "
                           "contain only lowercase letters, digits and underscores.")
        check_type_pair(data["type"], data["fieldType"])
        stamp = now_iso()
        definition = PropertyDef(name, str(data["label"]), str(data["type"]), str(data["fieldType"]),
                                 str(data["groupName"]), description=str(data.get("description", "")),
                                 options=options_from(data.get("options")),
                                 display_order=int(data.get("displayOrder", -1)),
                                 has_unique_value=bool(data.get("hasUniqueValue", False)),
                                 hidden=bool(data.get("hidden", False)), form_field=bool(data.get("formField", False)),
                                 created_at=stamp, updated_at=stamp)
        with store.lock:
            if definition.group_name not in store.groups[spec.name]:
                raise ApiError(400, "VALIDATION_ERROR", f"Property group '{definition.group_name}' does not exist.")
            if name in store.properties[spec.name]:
                raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.")
            store.properties[spec.name][name] = definition
        return definition

    @app.get("/crm/v3/properties/<ot>")
    def list_properties(ot: str) -> Response:
        spec = object_type(ot)
        with store.lock:
            return jsonify({"results": [p.to_json() for p in store.properties[spec.name].values()]})

    @app.post("/crm/v3/properties/<ot>")
    def create_property(ot: str) -> tuple[Response, int]:
        return jsonify(new_property(object_type(ot), body_json()).to_json()), 201

    @app.get("/crm/v3/properties/<ot>/<name>")
    def get_property(ot: str, name: str) -> Response:
        definition = store.property(object_type(ot).name, name)
        if definition is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")
        return jsonify(definition.to_json())

    @app.patch("/crm/v3/properties/<ot>/<name>")
    def update_property(ot: str, name: str) -> Response:
        spec, data = object_type(ot), body_json()
        with store.lock:
            definition = store.properties[spec.name].get(name)
            if definition is None:
                raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")
            if definition.hubspot_defined:
                raise ApiError(400, "VALIDATION_ERROR", f"Property {name} is HubSpot-defined; its definition is "
                               "read only.")
            new_type, new_field = data.get("type", definition.type), data.get("fieldType", definition.field_type)
            check_type_pair(new_type, new_field)
            if "groupName" in data and data["groupName"] not in store.groups[spec.name]:
                raise ApiError(400, "VALIDATION_ERROR", f"Property group '{data['groupName']}' does not exist.")
            definition.type, definition.field_type = str(new_type), str(new_field)
            definition.label = str(data.get("label", definition.label))
            definition.description = str(data.get("description", definition.description))
            definition.group_name = str(data.get("groupName", definition.group_name))
            definition.display_order = int(data.get("displayOrder", definition.display_order))
            definition.hidden = bool(data.get("hidden", definition.hidden))
            definition.form_field = bool(data.get("formField", definition.form_field))
            if "options" in data:
                definition.options = options_from(data["options"])
            definition.updated_at = now_iso()
            return jsonify(definition.to_json())

    @app.post("/crm/v3/properties/<ot>/batch/create")
    def batch_create_properties(ot: str) -> tuple[Response, int]:
        spec, data, started = object_type(ot), body_json(), now_iso()
        inputs = data.get("inputs")
        if not isinstance(inputs, list):
            raise ApiError(400, "VALIDATION_ERROR", "inputs must be a list.")
        results, errors = [], []
        for item in inputs:
            try:
                results.append(new_property(spec, item if isinstance(item, dict) else {}).to_json())
            except ApiError as exc:
                errors.append(standard_error(exc.category, exc.message, {"name": [str(item.get("name", ""))]}))
        return batch_response(results, errors, started, ok_status=201)

    @app.post("/crm/v3/properties/<ot>/batch/read")
    def batch_read_properties(ot: str) -> tuple[Response, int]:
        spec, data, started = object_type(ot), body_json(), now_iso()
        results, errors = [], []
        for item in data.get("inputs") or []:
            definition = store.property(spec.name, str(item.get("name")))
            if definition is None:
                errors.append(standard_error("OBJECT_NOT_FOUND", f"Unable to find property {item.get('name')}",
                                             {"name": [str(item.get("name"))]}))
            else:
                results.append(definition.to_json())
        return batch_response(results, errors, started)


def _object_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    """CRM objects v3: list, read, update, batch read and update, search."""
    store = sandbox.store

    @app.get("/crm/v3/objects/<ot>")
    def list_objects(ot: str) -> Response:
        spec = object_type(ot)
        limit = min(max(int(request.args.get("limit", 10)), 1), MAX_LIST_LIMIT)
        after = request.args.get("after")
        records = store.live(spec.name)
        if after:
            records = [r for r in records if int(r.id) >= int(after)]  # HubSpot's cursor is the next record's id
        page, rest = records[:limit], records[limit:]
        properties, history = names_param("properties"), names_param("propertiesWithHistory")
        associations = names_param("associations")
        body: dict[str, Any] = {"results": [object_json(store, spec, r, properties, history, associations)
                                            for r in page]}
        if rest:
            query = {**request.args.to_dict(flat=True), "after": rest[0].id}
            body["paging"] = {"next": {"after": rest[0].id, "link": f"{request.base_url}?{urlencode(query)}"}}
        return jsonify(body)

    @app.get("/crm/v3/objects/<ot>/<object_id>")
    def get_object(ot: str, object_id: str) -> Response:
        spec = object_type(ot)
        record = find(store, spec, object_id, request.args.get("idProperty"))
        if record is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                           context={"id": [object_id]})
        return jsonify(object_json(store, spec, record, names_param("properties"), names_param("propertiesWithHistory"),
                                   names_param("associations")))

    def write_change() -> Change:
        # writes made with the app's token show up as INTEGRATION with the app id (observed payloads)
        return Change("INTEGRATION", str(sandbox.app_id))

    @app.patch("/crm/v3/objects/<ot>/<object_id>")
    def update_object(ot: str, object_id: str) -> Response:
        spec, data = object_type(ot), body_json()
        record = find(store, spec, object_id, request.args.get("idProperty"))
        if record is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                           context={"id": [object_id]})
        clean, invalid = store.validate(spec.name, data.get("properties") or {})
        if invalid:
            raise ApiError(400, "VALIDATION_ERROR", invalid_values_message(invalid))
        changed = store.apply(record, clean, write_change())
        sandbox.after_api_write(spec.name, record, changed)
        return jsonify(object_json(store, spec, record, [*spec.default_properties, *clean]))

    @app.post("/crm/v3/objects/<ot>/batch/read")
    def batch_read_objects(ot: str) -> tuple[Response, int]:
        spec, data, started = object_type(ot), body_json(), now_iso()
        inputs = data.get("inputs")
        if not isinstance(inputs, list):
            raise ApiError(400, "VALIDATION_ERROR", "inputs must be a list.")
        history = list(data.get("propertiesWithHistory") or [])
        limit = MAX_HISTORY_BATCH_INPUTS if history else MAX_BATCH_INPUTS
        if len(inputs) > limit:
            raise ApiError(400, "VALIDATION_ERROR", f"Batch input limit exceeded: {len(inputs)} inputs given, the "
                           f"limit is {limit}.", context={"limit": [str(limit)]})
        results, missing = [], []
        for item in inputs:
            record = find(store, spec, str(item.get("id")), data.get("idProperty"))
            if record is None:
                missing.append(str(item.get("id")))
            elif all(r["id"] != record.id for r in results):
                results.append(object_json(store, spec, record, list(data.get("properties") or []), history))
        message = (f"Could not get some {spec.singular.upper()} objects, they may be deleted or not exist. "
                   "Check that ids are valid.")
        errors = [standard_error("OBJECT_NOT_FOUND", message, {"ids": missing})] if missing else []
        return batch_response(results, errors, started)

    @app.post("/crm/v3/objects/<ot>/batch/update")
    def batch_update_objects(ot: str) -> tuple[Response, int]:
        spec, data, started = object_type(ot), body_json(), now_iso()
        inputs = data.get("inputs")
        if not isinstance(inputs, list):
            raise ApiError(400, "VALIDATION_ERROR", "inputs must be a list.")
        if len(inputs) > MAX_BATCH_INPUTS:
            raise ApiError(400, "VALIDATION_ERROR", f"Batch input limit exceeded: {len(inputs)} inputs given, the "
                           f"limit is {MAX_BATCH_INPUTS}.", context={"limit": [str(MAX_BATCH_INPUTS)]})
        ids = [str(item.get("id")) for item in inputs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ApiError(400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {duplicates}. IDs must be "
                           "unique")
        results, errors = [], []
        for item in inputs:
            object_id, trace = str(item.get("id")), item.get("objectWriteTraceId")
            context = {"ids": [object_id], **({"objectWriteTraceId": [str(trace)]} if trace else {})}
            record = find(store, spec, object_id, item.get("idProperty"))
            if record is None:
                errors.append(standard_error("OBJECT_NOT_FOUND", f"Could not find {spec.singular} with id {object_id}",
                                             context))
                continue
            clean, invalid = store.validate(spec.name, item.get("properties") or {})
            if invalid:
                details = [{"message": e.message, "code": e.error, "context": {"propertyName": [e.name]}}
                           for e in invalid]
                errors.append(standard_error("VALIDATION_ERROR", invalid_values_message(invalid), context, details))
                continue
            changed = store.apply(record, clean, write_change())
            sandbox.after_api_write(spec.name, record, changed)
            result = object_json(store, spec, record, [*spec.default_properties, *clean])
            if trace:
                result["objectWriteTraceId"] = str(trace)
            results.append(result)
        return batch_response(results, errors, started)

    @app.post("/crm/v3/objects/<ot>/search")
    def search_objects(ot: str) -> Response:
        spec, data = object_type(ot), body_json()
        with store.lock:
            definitions = dict(store.properties[spec.name])
        try:
            total, page, after = search(store.live(spec.name), data, definitions)
        except SearchError as exc:
            raise ApiError(400, "VALIDATION_ERROR", str(exc)) from exc
        properties = list(data.get("properties") or [])
        body: dict[str, Any] = {"total": total, "results": [object_json(store, spec, r, properties) for r in page]}
        if after is not None:
            body["paging"] = {"next": {"after": after}}
        return jsonify(body)


def multi_associated(from_spec: ObjectType, to_spec: ObjectType, ids: list[str]) -> list[dict[str, Any]]:
    type_id = _association_type_id(from_spec, to_spec)
    return [{"toObjectId": int(i), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id,
                                                         "label": None}]} for i in ids]


def page_after(ids: list[str], after: str | None, limit: int) -> tuple[list[str], str | None]:
    start = int(after) if after else 0
    page = ids[start:start + limit]
    return page, (str(start + limit) if start + limit < len(ids) else None)


def _association_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    """Associations v4: one object's associations, and batch reads."""
    store = sandbox.store

    @app.get("/crm/v4/objects/<ft>/<object_id>/associations/<tt>")
    def list_associations(ft: str, object_id: str, tt: str) -> Response:
        from_spec, to_spec = object_type(ft), object_type(tt)
        limit = min(max(int(request.args.get("limit", MAX_ASSOCIATION_LIMIT)), 1), MAX_ASSOCIATION_LIMIT)
        ids = store.associated(from_spec.name, object_id, to_spec.name)
        page, after = page_after(ids, request.args.get("after"), limit)
        body: dict[str, Any] = {"results": multi_associated(from_spec, to_spec, page)}
        if after is not None:
            query = {**request.args.to_dict(flat=True), "after": after}
            body["paging"] = {"next": {"after": after, "link": f"{request.base_url}?{urlencode(query)}"}}
        return jsonify(body)

    @app.post("/crm/v4/associations/<ft>/<tt>/batch/read")
    def batch_read_associations(ft: str, tt: str) -> tuple[Response, int]:
        from_spec, to_spec, data, started = object_type(ft), object_type(tt), body_json(), now_iso()
        inputs = data.get("inputs")
        if not isinstance(inputs, list):
            raise ApiError(400, "VALIDATION_ERROR", "inputs must be a list.")
        if len(inputs) > MAX_ASSOCIATION_BATCH_INPUTS:
            raise ApiError(400, "VALIDATION_ERROR", f"Batch input limit exceeded: {len(inputs)} inputs given, the "
                           f"limit is {MAX_ASSOCIATION_BATCH_INPUTS}.")
        results, errors = [], []
        for item in inputs:
            from_id = str(item.get("id"))
            ids = store.associated(from_spec.name, from_id, to_spec.name)
            if not ids:
                # HubSpot reports inputs without associations as errors (observed 207 payloads)
                errors.append(standard_error(
                    "OBJECT_NOT_FOUND", f"No {to_spec.singular} is associated with {from_spec.singular} {from_id}.",
                    {"fromObjectId": [from_id], "fromObjectType": [from_spec.singular],
                     "toObjectType": [to_spec.singular]}, sub_category="crm.associations.NO_ASSOCIATIONS_FOUND"))
                continue
            page, after = page_after(ids, item.get("after"), MAX_ASSOCIATION_LIMIT)
            result: dict[str, Any] = {"from": {"id": from_id}, "to": multi_associated(from_spec, to_spec, page)}
            if after is not None:
                result["paging"] = {"next": {"after": after}}
            results.append(result)
        return batch_response(results, errors, started)


def _association_type_id(from_spec: ObjectType, to_spec: ObjectType) -> int:
    """HUBSPOT_DEFINED unlabeled type id for the direction (contact <-> X table)."""
    if from_spec.name == "contacts" and to_spec.contact_type_ids:
        return to_spec.contact_type_ids[0]
    if to_spec.name == "contacts" and from_spec.contact_type_ids:
        return from_spec.contact_type_ids[1]
    return 1  # pairs the connector never reads; not in the sandbox's table


def _owner_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    """Owners v3 (read-only): the account's users that records can be assigned to, paged."""

    @app.get("/crm/v3/owners/")
    @app.get("/crm/v3/owners")
    def list_owners() -> Response:
        if not sandbox.owners_scope:
            raise ApiError(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call.",
                           errors=[{"message": "One or more of the following scopes are required.",
                                    "context": {"requiredGranularScopes": ["crm.objects.owners.read"]}}])
        limit = min(max(int(request.args.get("limit", 100)), 1), OWNERS_LIMIT)
        start = int(request.args.get("after") or 0)
        with sandbox.lock:
            owners = [o for o in sandbox.owners.values()
                      if request.args.get("email") in (None, "", o["email"])]
        page = owners[start:start + limit]
        body: dict[str, Any] = {"results": page}
        if start + limit < len(owners):
            after = str(start + limit)
            body["paging"] = {"next": {"after": after,
                                       "link": f"{request.base_url}?{urlencode({'limit': limit, 'after': after})}"}}
        return jsonify(body)
