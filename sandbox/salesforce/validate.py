"""Custom field rules the sandbox enforces, so a wrong definition or value fails as in a real org.

Definitions (Tooling ``CustomField.Metadata``): a known ``type``; Number needs ``precision``
(1..18) and ``scale`` (0..precision); LongTextArea needs ``length`` (256..131072) and
``visibleLines``; Picklist needs ``valueSet.valueSetDefinition.value`` entries. Values: restricted
picklists only take their values, numbers must fit precision/scale, long text its length,
datetimes must parse.
"""

from __future__ import annotations

from typing import Any

from .soql import parse_datetime
from .store import CustomFieldDef, SalesforceApiError

FIELD_TYPES = ("Number", "Text", "LongTextArea", "Picklist", "DateTime", "Date", "Checkbox", "Percent", "Currency")


def _bad(message: str) -> SalesforceApiError:
    return SalesforceApiError(400, "FIELD_INTEGRITY_EXCEPTION", message)


def validate_field_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise _bad("Metadata is required")
    kind = metadata.get("type")
    if kind not in FIELD_TYPES:
        raise _bad(f"Invalid field type: {kind}")
    if not metadata.get("label"):
        raise SalesforceApiError(400, "REQUIRED_FIELD_MISSING", "Required field is missing: label", ["label"])
    if kind in ("Number", "Percent", "Currency"):
        precision, scale = metadata.get("precision"), metadata.get("scale")
        if not isinstance(precision, int) or not 1 <= precision <= 18:
            raise _bad("Precision must be between 1 and 18")
        if not isinstance(scale, int) or not 0 <= scale <= precision:
            raise _bad("Scale must be between 0 and the precision")
    if kind == "LongTextArea":
        length = metadata.get("length")
        if not isinstance(length, int) or not 256 <= length <= 131072:
            raise _bad("Length must be between 256 and 131072")
        if not isinstance(metadata.get("visibleLines"), int):
            raise SalesforceApiError(400, "REQUIRED_FIELD_MISSING", "Required field is missing: visibleLines")
    if kind == "Picklist":
        values = ((metadata.get("valueSet") or {}).get("valueSetDefinition") or {}).get("value")
        if not isinstance(values, list) or not values or not all(isinstance(v, dict) and v.get("fullName")
                                                                   for v in values):
            raise _bad("Picklist fields need valueSet.valueSetDefinition.value entries")
    return metadata


def validate_custom_value(definition: CustomFieldDef, value: Any) -> None:
    if value is None:
        return
    metadata = definition.metadata
    kind = metadata["type"]
    name = definition.api_name
    if kind == "Picklist":
        allowed = [v["fullName"] for v in metadata["valueSet"]["valueSetDefinition"]["value"]]
        if metadata["valueSet"].get("restricted") and value not in allowed:
            raise SalesforceApiError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                     f"{metadata['label']}: bad value for restricted picklist field: {value}", [name])
    elif kind in ("Number", "Percent", "Currency"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of double from {value!r}",
                                     [name])
        digits = metadata["precision"] - metadata["scale"]
        if abs(value) >= 10 ** digits:
            raise SalesforceApiError(400, "NUMBER_OUTSIDE_VALID_RANGE",
                                     f"{metadata['label']}: value outside of valid range on numeric field: {value}",
                                     [name])
    elif kind == "LongTextArea":
        if len(str(value)) > metadata["length"]:
            raise SalesforceApiError(400, "STRING_TOO_LONG", f"{metadata['label']}: data value too large", [name])
    elif kind == "DateTime":
        try:
            parse_datetime(str(value))
        except ValueError as exc:
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of datetime from "
                                     f"{value!r}", [name]) from exc
