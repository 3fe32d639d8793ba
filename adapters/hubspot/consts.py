"""HubSpot facts the adapter, the receiver and the tests share; each is written here once."""

from __future__ import annotations

from ..client import CallLimit
from ..fields import NAMESPACE

PLATFORM = "hubspot"
GROUP_NAME = NAMESPACE  # the property group holding the CEM properties
GROUP_LABEL = "Customer Experience (CEM)"
PROPERTY_PREFIX = f"{NAMESPACE}_"  # cem_journey_stage ...: only the connector writes these
APP_ID_SETTING = "app_id"  # the receiver drops changes HubSpot attributes to this app (our own writes)
# HubSpot signs app webhooks with the app's client secret (no separate webhook secret exists).
WEBHOOK_SECRET_CREDENTIAL = "client_secret"

# Published request limits (developers.hubspot.com usage guidelines; docs/capacity.md). The burst limit is per
# app and rolls over ten seconds; its size depends on the app and the account: 100 (private apps, Free and
# Starter), 110 (public OAuth apps), 190 (Professional, Enterprise), 250 (API limit increase add-on). The
# X-HubSpot-RateLimit-Max / -Interval-Milliseconds headers say which, and the shared budget paces on them.
BURST_LIMIT = CallLimit(100, 10.0, "burst limit")
