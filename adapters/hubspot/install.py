"""``cem-connector install hubspot``: the CEM property group and properties on contacts. Idempotent.

Each property is compared with what the portal holds (``mapping.definition_changes``); only what is
missing is created (one batch call) and only what differs is updated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyUpdate,
)

from ..base import ProvisionReport
from ..fields import FieldSpec
from . import mapping
from .client import HubSpotClient
from .consts import GROUP_LABEL, GROUP_NAME


def provision(client: HubSpotClient, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> ProvisionReport:
    """Create (or repair) the CEM property group and properties on contacts; a dry run only looks."""
    report = ProvisionReport(dry_run=dry_run)
    _, groups = client.request("listing contact property groups", "crm.properties.groups_api", "get_all", "contacts")
    group_target = f"property group {GROUP_NAME} on contacts"
    if any(g.get("name") == GROUP_NAME for g in groups.get("results") or []):
        report.add("unchanged", group_target)
    else:
        if not dry_run:
            client.request("creating the CEM property group", "crm.properties.groups_api", "create", "contacts",
                          PropertyGroupCreate(name=GROUP_NAME, label=GROUP_LABEL, display_order=-1))
        report.add("create", group_target, GROUP_LABEL)

    _, existing = client.request("listing contact properties", "crm.properties.core_api", "get_all", "contacts")
    by_name = {p.get("name"): p for p in existing.get("results") or []}
    to_create: list[dict[str, Any]] = []
    for order, spec in enumerate(fields):
        wanted = mapping.property_definition(spec, order)
        target = f"property {wanted['name']} on contacts"
        current = by_name.get(wanted["name"])
        if current is None:
            to_create.append(wanted)
            report.add("create", target, f"{wanted['type']}/{wanted['fieldType']}")
            continue
        changes = mapping.definition_changes(wanted, current)
        if not changes:
            report.add("unchanged", target)
            continue
        if not dry_run:
            client.request(f"updating {wanted['name']}", "crm.properties.core_api", "update", "contacts",
                          wanted["name"], _property_update(changes))
        have = {str(o.get("value")) for o in current.get("options") or []}
        added = [o["value"] for o in wanted.get("options") or [] if o["value"] not in have]
        report.add("update", target,
                   ", ".join(sorted(changes)) + (f" (add options: {', '.join(added)})" if added else ""))
    if to_create and not dry_run:
        client.request("creating the CEM properties", "crm.properties.batch_api", "create", "contacts",
                      BatchInputPropertyCreate(inputs=[_property_create(d) for d in to_create]))
    return report


def _property_create(definition: Mapping[str, Any]) -> PropertyCreate:
    return PropertyCreate(
        name=definition["name"], label=definition["label"], type=definition["type"],
        field_type=definition["fieldType"], group_name=definition["groupName"], description=definition["description"],
        display_order=definition["displayOrder"], has_unique_value=False, hidden=False, form_field=False,
        options=[_option(o) for o in definition.get("options") or []] or None,
    )


def _property_update(changes: Mapping[str, Any]) -> PropertyUpdate:
    return PropertyUpdate(
        label=changes.get("label"), type=changes.get("type"), field_type=changes.get("fieldType"),
        group_name=changes.get("groupName"), description=changes.get("description"),
        options=[_option(o) for o in changes["options"]] if "options" in changes else None,
    )


def _option(option: Mapping[str, Any]) -> OptionInput:
    return OptionInput(label=option["label"], value=option["value"], display_order=option.get("displayOrder", 0),
                       hidden=bool(option.get("hidden", False)), description=option.get("description"))
