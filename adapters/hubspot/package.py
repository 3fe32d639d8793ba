"""``cem-connector package hubspot``: a HubSpot developer-platform project (platform version 2026.03).

Layout and config keys follow HubSpot's app configuration reference and the official project templates
(github.com/HubSpot/hubspot-project-components, 2026.03): ``hsproject.json`` (name, srcDir, platformVersion),
``src/app/app-hsmeta.json`` (a privately distributed app with a static token: the scopes the adapter uses,
``permittedUrls.fetch`` naming the connector), ``src/app/webhooks/webhooks-hsmeta.json`` (target URL and the
subscriptions README lists; never a ``cem_*`` property, so the connector's own writes raise no events) and an
app card in ``src/app/cards/`` (React, ``@hubspot/ui-extensions``) on the contact record's tab.

The CEM properties themselves are not part of a project (projects declare no contact properties): after the
upload, ``cem-connector install hubspot`` creates them with the app's token, idempotently.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..fields import CEM_FIELDS
from ..packaging import PackageContext, fill, template
from .mapping import GROUP_NAME, property_name

PLATFORM_VERSION = "2026.03"
APP_UID = "cem_connector_app"
CARD_UID = "cem_contact_card"
WEBHOOKS_UID = "cem_webhooks"
UI_EXTENSIONS_VERSION = "0.17.0"  # the version crm-packages/ type-checks and renders the card with

# What the adapter reads and writes (README "Connect a real HubSpot account"); "oauth" as in HubSpot's templates.
SCOPES = ("oauth", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.schemas.contacts.read",
          "crm.schemas.contacts.write", "crm.objects.deals.read", "tickets", "sales-email-read",
          "conversations.read", "crm.objects.owners.read")
# Contact changes that can move a contact's CEM fields. Engagements reach the connector through
# contact.associationChange and the generic object.* events (objectTypeId tells them apart).
LEGACY_SUBSCRIPTIONS: tuple[dict[str, Any], ...] = (
    {"subscriptionType": "contact.creation"},
    {"subscriptionType": "contact.deletion"},
    {"subscriptionType": "contact.merge"},
    {"subscriptionType": "contact.restore"},
    {"subscriptionType": "contact.associationChange"},
    {"subscriptionType": "contact.propertyChange", "propertyName": "lifecyclestage"},
    {"subscriptionType": "ticket.creation"},
    {"subscriptionType": "ticket.propertyChange", "propertyName": "hs_pipeline_stage"},
    {"subscriptionType": "deal.propertyChange", "propertyName": "dealstage"},
)
# New-format events, one per engagement object (the generic-subscription object types of HubSpot's changelog
# "Public Beta: Generic Webhook Subscriptions", lowercased as the configure-webhooks reference writes "contact").
OBJECT_SUBSCRIPTIONS = tuple({"subscriptionType": "object.creation", "objectType": kind} for kind in (
    "note", "email", "call", "meeting_event", "communication", "feedback_submission"))
# hubEvents holds contact.privacyDeletion and conversation.* (configure-webhooks reference).
HUB_EVENTS = ({"subscriptionType": "contact.privacyDeletion"},  # GDPR: the connector forgets the person
              {"subscriptionType": "conversation.newMessage"})


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def _active(subscriptions: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [{**item, "active": True} for item in subscriptions]


class HubSpotPackage:
    archive: ClassVar[bool] = False
    next_step: ClassVar[str] = "Upload it with `hs project upload` (README: 'Install inside the CRM', HubSpot)."

    def files(self, context: PackageContext) -> dict[str, bytes]:
        context.require_https("HubSpot")
        summary_url = context.summary_url("hubspot")
        own_properties = {property_name(spec) for spec in CEM_FIELDS}
        watched = [s.get("propertyName") for s in LEGACY_SUBSCRIPTIONS if s.get("propertyName")]
        assert not own_properties & set(watched), "never subscribe to the connector's own cem_* properties"
        name = str(context.settings.get("app_name") or "CEM Connector")
        return {
            "hsproject.json": _json({"name": "cem-connector", "srcDir": "src", "platformVersion": PLATFORM_VERSION}),
            "src/app/app-hsmeta.json": _json({"uid": APP_UID, "type": "app", "config": {
                "name": name,
                "description": "Customer Experience Mapping: journey stage, emotion and churn risk with the "
                               "evidence, on every contact.",
                "distribution": "private",
                "auth": {"type": "static", "requiredScopes": list(SCOPES), "optionalScopes": [],
                         "conditionallyRequiredScopes": []},
                "permittedUrls": {"fetch": [context.base_url], "iframe": [], "img": []},
            }}),
            "src/app/webhooks/webhooks-hsmeta.json": _json({"uid": WEBHOOKS_UID, "type": "webhooks", "config": {
                "settings": {"targetUrl": context.webhook_url("hubspot"), "maxConcurrentRequests": 10},
                "subscriptions": {"crmObjects": _active(OBJECT_SUBSCRIPTIONS),
                                  "legacyCrmObjects": _active(LEGACY_SUBSCRIPTIONS),
                                  "hubEvents": _active(HUB_EVENTS)},
            }}),
            "src/app/cards/cem-card-hsmeta.json": _json({"uid": CARD_UID, "type": "card", "config": {
                "name": "Customer experience (CEM)",
                "description": "Journey stage, emotion and trend, churn risk and its reason, with the journey map.",
                "location": "crm.record.tab", "entrypoint": "/app/cards/CemCard.tsx", "objectTypes": ["contacts"],
            }}),
            "src/app/cards/CemCard.tsx": fill(template(__file__, "CemCard.tsx"),
                                              {"CEM_SUMMARY_URL": summary_url}).encode(),
            "src/app/cards/package.json": _json({
                "name": "cem-contact-card", "version": context.version, "private": True, "type": "module",
                "dependencies": {"@hubspot/ui-extensions": UI_EXTENSIONS_VERSION, "react": "^18.2.0"},
                "devDependencies": {"@types/react": "^18", "typescript": "^5"},
            }),
            "README.md": fill(template(__file__, "README.md"), {
                "CEM_WEBHOOK_URL": context.webhook_url("hubspot"), "CEM_GROUP": GROUP_NAME,
                "CEM_CONNECTION": str(context.connection_id)}).encode(),
        }
