"""HubSpot facts the adapter, the receiver and the tests share; each is written here once."""

from __future__ import annotations

from ..fields import NAMESPACE

PLATFORM = "hubspot"
GROUP_NAME = NAMESPACE  # the property group holding the CEM properties
GROUP_LABEL = "Customer Experience (CEM)"
PROPERTY_PREFIX = f"{NAMESPACE}_"  # cem_journey_stage ...: only the connector writes these
APP_ID_SETTING = "app_id"  # the receiver drops changes HubSpot attributes to this app (our own writes)
# HubSpot signs app webhooks with the app's client secret (no separate webhook secret exists).
WEBHOOK_SECRET_CREDENTIAL = "client_secret"
