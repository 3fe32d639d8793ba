"""CRM search (``POST /crm/v3/objects/{type}/search``): filter groups, one sort, offset paging.

Limits as the CRM search guide states them (developers.hubspot.com/docs/api/crm/search, "Limitations"):
at most 5 filter groups, 6 filters per group and 18 in total; a request over them gets 400
VALIDATION_ERROR. (The 2024-08 changelog announced 5 / 10 / 25; the guide's stricter figures are what a
client must stay within.) 200 results per page, 10,000 results reachable per query, one sort rule.
``after`` is a string cursor (``PublicObjectSearchRequest.after: string`` in HubSpot's OpenAPI spec and
the hubspot-api-client model); a JSON number is refused. Date values are epoch-ms strings (ISO accepted).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

from .schema import PropertyDef, parse_moment
from .store import StoredObject

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT, MAX_REACHABLE = 200, 10_000
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
QUERY_PROPERTIES = ("firstname", "lastname", "email", "company", "dealname", "subject", "content", "hs_note_body",
                    "hs_email_subject", "hs_call_title", "hs_meeting_title")


class SearchError(Exception):
    """The request is invalid: HubSpot answers 400 VALIDATION_ERROR with this message."""


def _comparable(definition: PropertyDef, value: Any) -> Any:
    if value is None or value == "":
        return None
    if definition.type in ("datetime", "date"):
        moment = parse_moment(value)
        if moment is None:
            raise SearchError(f"{value} is not a valid value for {definition.name}; use epoch milliseconds.")
        return moment.timestamp()
    if definition.type == "number":
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise SearchError(f"{value} is not a valid number for {definition.name}.") from exc
    return str(value).lower()


def _matches(record: StoredObject, flt: Mapping[str, Any], definitions: Mapping[str, PropertyDef]) -> bool:
    name, operator = flt.get("propertyName"), flt.get("operator", "EQ")
    definition = definitions.get(str(name))
    if definition is None:
        raise SearchError(f"There was a problem with the request: property {name} does not exist.")
    if operator not in OPERATORS:
        raise SearchError(f"Unknown operator {operator}.")
    actual = _comparable(definition, record.properties.get(definition.name))
    if operator == "HAS_PROPERTY":
        return actual is not None
    if operator == "NOT_HAS_PROPERTY":
        return actual is None
    if operator in ("IN", "NOT_IN"):
        values = {_comparable(definition, v) for v in flt.get("values") or []}
        return (actual in values) if operator == "IN" else (actual not in values)
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(flt.get("value", "")).lower()
        words = str(record.properties.get(definition.name) or "").lower().split()
        found = any(fnmatch.fnmatchcase(w, pattern) for w in words)
        return found if operator == "CONTAINS_TOKEN" else not found
    wanted = _comparable(definition, flt.get("value"))
    if operator == "NEQ":
        return actual != wanted
    if actual is None or wanted is None:
        return False
    if operator == "EQ":
        return actual == wanted
    if operator == "BETWEEN":
        high = _comparable(definition, flt.get("highValue"))
        return high is not None and wanted <= actual <= high
    return {"LT": actual < wanted, "LTE": actual <= wanted, "GT": actual > wanted, "GTE": actual >= wanted}[operator]


def _parse_sorts(sorts: Sequence[Any]) -> tuple[str, bool] | None:
    """One sort rule: the SDK sends strings ("-createdate"), the docs show objects."""
    if not sorts:
        return None
    if len(sorts) > 1:
        raise SearchError("Only one sort rule can be applied to a search.")
    rule = sorts[0]
    if isinstance(rule, Mapping):
        return str(rule.get("propertyName")), str(rule.get("direction", "ASCENDING")).upper() == "DESCENDING"
    text = str(rule)
    return text.lstrip("-"), text.startswith("-")


def search(records: Sequence[StoredObject], body: Mapping[str, Any],
           definitions: Mapping[str, PropertyDef]) -> tuple[int, list[StoredObject], str | None]:
    """(total, this page, next ``after`` or None)."""
    groups = body.get("filterGroups") or []
    if len(groups) > MAX_GROUPS:
        raise SearchError(f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}.")
    if any(len(g.get("filters") or []) > MAX_FILTERS_PER_GROUP for g in groups):
        raise SearchError(f"Too many filters in a filter group; the maximum is {MAX_FILTERS_PER_GROUP}.")
    if sum(len(g.get("filters") or []) for g in groups) > MAX_FILTERS:
        raise SearchError(f"Too many filters; the maximum is {MAX_FILTERS} across all filter groups.")
    limit = int(body.get("limit") or 10)
    if limit < 1 or limit > MAX_LIMIT:
        raise SearchError(f"limit must be between 1 and {MAX_LIMIT}.")
    after = body.get("after")
    if after is not None and not isinstance(after, str):
        raise SearchError(f"after must be a string (the paging.next.after of the previous page), got {after!r}.")
    try:
        offset = int(after or 0)
    except ValueError as exc:
        raise SearchError(f"after {after!r} is not a cursor this search returned.") from exc
    if offset + limit > MAX_REACHABLE:
        raise SearchError(f"Search results are limited to {MAX_REACHABLE} records; narrow the filters.")

    query = str(body.get("query") or "").lower()
    hits = [r for r in records
            if (not groups or any(all(_matches(r, f, definitions) for f in g.get("filters") or []) for g in groups))
            and (not query or any(query in str(r.properties.get(p) or "").lower() for p in QUERY_PROPERTIES))]
    rule = _parse_sorts(body.get("sorts") or [])
    if rule:
        name, descending = rule
        definition = definitions.get(name)
        if definition is None:
            raise SearchError(f"Cannot sort on unknown property {name}.")
        present = [r for r in hits if _comparable(definition, r.properties.get(name)) is not None]
        missing = [r for r in hits if _comparable(definition, r.properties.get(name)) is None]
        present.sort(key=lambda r: (_comparable(definition, r.properties.get(name)), int(r.id)), reverse=descending)
        hits = present + missing
    page = hits[offset:offset + limit]
    more = offset + limit < len(hits)
    return len(hits), page, (str(offset + limit) if more else None)
