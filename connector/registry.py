"""The platform registry: one line per CRM (after sentry-python's integrations).

Entries are import paths, loaded lazily, so a broken or missing platform
module fails alone and never takes the others down. The registry names the
product's parts only; the sandbox CRMs are found by platform name
(``sandbox.sandbox_class``) by the demo and the tests, which sit above both.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from .errors import UnknownPlatform


@dataclass(frozen=True)
class Platform:
    name: str
    label: str
    adapter: str  # "module:Class" of the CRMAdapter
    receiver: str  # "module:Class" of the WebhookReceiver
    package: str = ""  # "module:Class" of the CRM package builder (`cem-connector package`)

    def adapter_class(self) -> Any:
        return _load(self.adapter)

    def receiver_class(self) -> Any:
        return _load(self.receiver)

    def package_class(self) -> Any:
        if not self.package:
            raise UnknownPlatform(f"{self.label} has no installable CRM package.")
        return _load(self.package)


PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform("hubspot", "HubSpot", "adapters.hubspot:HubSpotAdapter", "webhooks.hubspot:HubSpotReceiver",
             "adapters.hubspot.package:HubSpotPackage"),
    Platform("salesforce", "Salesforce", "adapters.salesforce:SalesforceAdapter",
             "webhooks.salesforce:SalesforceReceiver", "adapters.salesforce.package:SalesforcePackage"),
    Platform("dynamics", "Dynamics 365", "adapters.dynamics:DynamicsAdapter", "webhooks.dynamics:DynamicsReceiver",
             "adapters.dynamics.package:DynamicsPackage"),
)}


def get_platform(name: str) -> Platform:
    try:
        return PLATFORMS[name]
    except KeyError:
        raise UnknownPlatform(
            f"Unknown platform '{name}'. Choose one of: {', '.join(sorted(PLATFORMS))}."
        ) from None


def available_platforms() -> list[Platform]:
    """Platforms whose modules import cleanly (others are skipped, not fatal)."""
    usable = []
    for platform in PLATFORMS.values():
        try:
            platform.adapter_class()
            platform.receiver_class()
        except Exception:
            continue
        usable.append(platform)
    return usable


@cache
def _load(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)
