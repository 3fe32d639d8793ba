"""A local HubSpot portal (see ``sandbox``): ``schema`` (object model), ``store`` (data), ``search``,
``auth`` (tokens), ``webhooks`` (events, signatures, retries), ``api`` (routes)."""

from .sandbox import HubSpotSandbox

Sandbox = HubSpotSandbox  # what ``sandbox.sandbox_class("hubspot")`` finds

__all__ = ["HubSpotSandbox", "Sandbox"]
