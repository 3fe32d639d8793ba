"""The CEM fields written back to every CRM (DESIGN.md §3), platform-neutral.

Each adapter turns a ``FieldSpec`` into its native definition and name.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from cem_engine.model import CHURN_REASONS, EMOTIONS, JOURNEY_STAGES
from cem_engine.taxonomy import Taxonomy

# The product's name space in every CRM: HubSpot's property group and property prefix (cem_...),
# Dataverse's default publisher prefix; Salesforce's API names start with its capitalised form (CEM_...).
NAMESPACE = "cem"

FieldType = Literal["picklist", "datetime", "number", "longtext"]


@dataclass(frozen=True)
class FieldSpec:
    key: str  # platform-neutral key, as in Profile.fields()
    label: str
    type: FieldType
    description: str
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    scale: int = 0  # decimal places for numbers
    max_length: int = 0  # for long text
    labels: Mapping[str, str] = field(default_factory=dict)  # option -> the label reps see (default: from the key)
    # Options come from the engine config (churn reasons): any reason name may be written, and the CRM
    # knows it once `cem-connector install` has added it.
    configurable: bool = False

    def option_label(self, value: str) -> str:
        return self.labels.get(value) or value.replace("_", " ").capitalize()

    def option_code(self, option: str) -> int:
        """A number for ``option`` that never changes, whatever else the list holds (Dataverse choice values).

        Packaged churn reasons have fixed codes (``REASON_CODES``, append-only); a reason an admin adds
        gets 1000 + a hash of its name, so adding, removing or reordering reasons never renumbers one.
        Other picklists are fixed by the product: their index.
        """
        if self.configurable:
            return reason_code(option)
        return self.options.index(option)

    def option_for_code(self, code: int) -> str | None:
        """The option stored as ``code``; packaged reasons are known even when the config no longer lists them."""
        found = next((o for o in self.options if self.option_code(o) == code), None)
        if found is None and self.configurable:
            found = next((name for name, known in REASON_CODES.items() if known == code), None)
        return found


CEM_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("journey_stage", "CEM Journey Stage", "picklist",
              "Where the customer is in their journey, inferred by CEM from lifecycle, deals and interactions.",
              options=JOURNEY_STAGES),
    FieldSpec("journey_stage_since", "CEM Journey Stage Since", "datetime",
              "When the contact entered the current journey stage."),
    FieldSpec("emotion_score", "CEM Emotion Score", "number",
              "Time-decayed feeling from customer-authored text and surveys, -100 (very negative) to 100.",
              minimum=-100, maximum=100, scale=1),
    FieldSpec("emotion", "CEM Emotion", "picklist",
              "The dominant emotion in the customer's recent messages.", options=EMOTIONS),
    FieldSpec("emotion_trend", "CEM Emotion Trend", "number",
              "Change of the emotion score over the last 30 days.", minimum=-200, maximum=200, scale=1),
    FieldSpec("churn_risk", "CEM Churn Risk", "number",
              "How likely the customer is to leave, 0-100, explained by the churn reason detail.",
              minimum=0, maximum=100, scale=0),
    FieldSpec("churn_reason", "CEM Churn Reason", "picklist",
              "The most likely reason behind the churn risk, from the evidence.", options=CHURN_REASONS,
              configurable=True),
    FieldSpec("churn_reason_detail", "CEM Churn Reason Detail", "longtext",
              "The evidence: short quotes, interaction type and date, and why this reason was chosen.",
              max_length=32000),
    FieldSpec("updated_at", "CEM Updated At", "datetime", "When the CEM connector last wrote these fields."),
)

FIELDS_BY_KEY: dict[str, FieldSpec] = {f.key: f for f in CEM_FIELDS}

# Codes of the packaged churn reasons (both taxonomies). APPEND ONLY: a CRM stores these numbers.
REASON_CODES: dict[str, int] = {name: code for code, name in enumerate((
    *CHURN_REASONS,  # b2b_software, codes 0-10 as before taxonomies existed
    "delivery_problem", "damaged_or_wrong_item", "refund_delay", "product_quality", "staff_conduct",
    "account_access",  # services_commerce
))}
_ADDED_REASON_CODES = 9000  # admin-added reasons: 1000..9999 (Dataverse allows prefix*10000 + 0..9999)


def reason_code(name: str) -> int:
    if name in REASON_CODES:
        return REASON_CODES[name]
    return 1000 + zlib.crc32(name.encode()) % _ADDED_REASON_CODES


def cem_fields(taxonomy: Taxonomy | None = None) -> tuple[FieldSpec, ...]:
    """The CEM fields with the Churn Reason options of the configured taxonomy (engine config:
    ``[reasons] taxonomy`` plus the admin's own reasons), labelled as the taxonomy labels them.

    ``None`` gives the packaged default fields. Raises ``ValueError`` when two reasons would share a code.
    """
    if taxonomy is None:
        return CEM_FIELDS
    codes: dict[int, str] = {}
    for name in taxonomy.names:
        other = codes.setdefault(reason_code(name), name)
        if other != name:
            raise ValueError(f"churn reasons {other!r} and {name!r} would share the CRM option value "
                             f"{reason_code(name)}; rename one of them in the engine config")
    reason = replace(FIELDS_BY_KEY["churn_reason"], options=taxonomy.names,
                     labels={name: r.label for name, r in taxonomy.reasons.items()})
    return tuple(reason if spec.key == "churn_reason" else spec for spec in CEM_FIELDS)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_epoch_ms(value: datetime) -> int:
    return int(as_utc(value).timestamp() * 1000)


def to_iso_z(value: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix, the form every CRM accepts for datetimes."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.") + f"{as_utc(value).microsecond // 1000:03d}Z"


def coerce(spec: FieldSpec, value: Any) -> Any:
    """Clamp numbers and truncate long text to what the field definition allows."""
    if value is None:
        return None
    if spec.type == "number":
        number = float(value)
        if spec.minimum is not None:
            number = max(spec.minimum, number)
        if spec.maximum is not None:
            number = min(spec.maximum, number)
        return round(number, spec.scale) if spec.scale else round(number)
    if spec.type == "longtext" and spec.max_length and len(str(value)) > spec.max_length:
        return str(value)[: spec.max_length - 1] + "…"
    return value
