"""Where Salesforce shows a record to a person, and which Salesforce pages may embed the journey map.

Every Salesforce record id opens at ``<my domain>/<id>`` (Lightning redirects it to the record page),
whatever the object: Task, Event, Case, EmailMessage or Contact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FRAME_ANCESTORS = ("https://*.lightning.force.com", "https://*.my.salesforce.com", "https://*.force.com",
                   "https://*.visualforce.com", "https://*.my.site.com")
_RECORD_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def record_url(settings: Mapping[str, Any], account_id: str | None, contact_id: str, interaction_id: str,
               kind: str) -> str | None:
    base = settings.get("instance_url") or settings.get("login_url")
    if not base:
        return None
    record = interaction_id.rpartition(":")[2]
    if not _RECORD_ID.match(record):
        record = contact_id  # not a record id of its own: open the contact, where it is listed
    return f"{str(base).rstrip('/')}/{record}"
