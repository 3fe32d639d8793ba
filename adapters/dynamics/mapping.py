"""The CEM fields as Dataverse columns on ``contact``: names, attribute metadata, value conversion.

Names: schema ``<prefix>_CEMJourneyStage``, logical ``<prefix>_cemjourneystage`` (the logical name
is the lowercased schema name). Choice values are ``option_value_prefix * 10000 + index``: the
publisher's option value prefix (10000 -> 100000000, 100000001, ...), as the maker portal numbers
custom options; the code is ``FieldSpec.option_code`` (fixed per option, never renumbered when an admin
adds a churn reason) so values never depend on labels or order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..fields import CEM_FIELDS, FieldSpec, as_utc, coerce, to_iso_z
from .consts import DEFAULT_PREFIX

DEFAULT_OPTION_VALUE_PREFIX = 10000
LANGUAGE = 1033  # labels in English (US); Dataverse shows them for every base language without translations
_CRM = "Microsoft.Dynamics.CRM."


def label(text: str) -> dict[str, Any]:
    return {"@odata.type": _CRM + "Label",
            "LocalizedLabels": [{"@odata.type": _CRM + "LocalizedLabel", "Label": text, "LanguageCode": LANGUAGE}]}


@dataclass(frozen=True)
class ColumnNaming:
    prefix: str = DEFAULT_PREFIX
    option_value_prefix: int = DEFAULT_OPTION_VALUE_PREFIX

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ColumnNaming:
        prefix = str(settings.get("prefix") or DEFAULT_PREFIX).lower()
        option_prefix = int(settings.get("option_value_prefix") or DEFAULT_OPTION_VALUE_PREFIX)
        return cls(prefix, option_prefix)

    def schema_name(self, spec: FieldSpec) -> str:
        return f"{self.prefix}_CEM" + "".join(part.capitalize() for part in spec.key.split("_"))

    def logical_name(self, spec: FieldSpec) -> str:
        return self.schema_name(spec).lower()

    def option_value(self, spec: FieldSpec, option: str) -> int:
        return self.option_value_prefix * 10000 + spec.option_code(option)

    def option_key(self, spec: FieldSpec, value: int) -> str | None:
        return spec.option_for_code(int(value) - self.option_value_prefix * 10000)

    # -- metadata ---------------------------------------------------------------------------
    def attribute_definition(self, spec: FieldSpec) -> dict[str, Any]:
        base: dict[str, Any] = {"SchemaName": self.schema_name(spec), "DisplayName": label(spec.label),
                                "Description": label(spec.description), "RequiredLevel": {"Value": "None"}}
        if spec.type == "picklist":
            return {"@odata.type": _CRM + "PicklistAttributeMetadata", **base, "OptionSet": {
                "@odata.type": _CRM + "OptionSetMetadata", "IsGlobal": False, "OptionSetType": "Picklist",
                "Options": [{"Value": self.option_value(spec, o), "Label": label(spec.option_label(o))}
                            for o in spec.options]}}
        if spec.type == "datetime":
            return {"@odata.type": _CRM + "DateTimeAttributeMetadata", **base, "Format": "DateAndTime",
                    "DateTimeBehavior": {"Value": "UserLocal"}}
        if spec.type == "number" and spec.scale == 0:
            return {"@odata.type": _CRM + "IntegerAttributeMetadata", **base, "Format": "None",
                    "MinValue": int(spec.minimum or 0), "MaxValue": int(spec.maximum or 2147483647)}
        if spec.type == "number":
            return {"@odata.type": _CRM + "DecimalAttributeMetadata", **base, "Precision": spec.scale,
                    "MinValue": float(spec.minimum if spec.minimum is not None else -1e9),
                    "MaxValue": float(spec.maximum if spec.maximum is not None else 1e9)}
        return {"@odata.type": _CRM + "MemoAttributeMetadata", **base, "FormatName": {"Value": "TextArea"},
                "MaxLength": spec.max_length or 4000}

    # -- values -----------------------------------------------------------------------------
    def to_native(self, spec: FieldSpec, value: Any) -> Any:
        if value is None:
            return None
        if spec.type == "picklist":
            # configurable options (churn reasons) have a code for any name; the CRM says whether it has it
            if value not in spec.options and not spec.configurable:
                raise ValueError(f"'{value}' is not an option of {spec.key}")
            return self.option_value(spec, str(value))
        if spec.type == "datetime":
            return to_iso_z(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
        return coerce(spec, value)

    def from_native(self, spec: FieldSpec, value: Any) -> Any:
        if value is None:
            return None
        if spec.type == "picklist":
            return self.option_key(spec, int(value))
        if spec.type == "datetime":
            return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
        if spec.type == "number":
            return int(value) if spec.scale == 0 else float(value)
        return str(value)

    def columns(self) -> list[str]:
        return [self.logical_name(spec) for spec in CEM_FIELDS]
