"""Where HubSpot shows a record to a person, and which HubSpot pages may embed the rep's journey map.

Emails, calls, notes, meetings and chats are activities on the contact's timeline (no page of their
own), so they link to the contact record; tickets have their own record page (object type 0-5).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

APP_URL = "https://app.hubspot.com"  # EU-hosted accounts use app-eu1.hubspot.com: settings.app_url
FRAME_ANCESTORS = ("https://app.hubspot.com", "https://app-eu1.hubspot.com", "https://*.hubspot.com")
_OBJECT_TYPES = {"contact": "0-1", "ticket": "0-5"}


def record_url(settings: Mapping[str, Any], account_id: str | None, contact_id: str, interaction_id: str,
               kind: str) -> str | None:
    if not account_id:
        return None  # the portal id is part of every record URL
    base = str(settings.get("app_url") or APP_URL).rstrip("/")
    object_kind, _, object_id = interaction_id.partition(":")
    if object_kind == "ticket" and object_id:
        return f"{base}/contacts/{account_id}/record/{_OBJECT_TYPES['ticket']}/{object_id}"
    return f"{base}/contacts/{account_id}/record/{_OBJECT_TYPES['contact']}/{contact_id}"
