"""Where Dynamics 365 shows a record to a person, and which Dynamics pages may embed the journey map.

Model-driven apps open any row at ``<org>/main.aspx?pagetype=entityrecord&etn=<table>&id=<guid>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

FRAME_ANCESTORS = ("https://*.dynamics.com", "https://*.powerapps.com")
# engine kind -> the Dataverse table it is read from (read.py); notes (annotation) open on their contact
_TABLES = {"email": "email", "call": "phonecall", "meeting": "appointment", "ticket": "incident"}


def record_url(settings: Mapping[str, Any], account_id: str | None, contact_id: str, interaction_id: str,
               kind: str) -> str | None:
    org = settings.get("org_url")
    if not org:
        return None
    table = _TABLES.get(kind)
    row = interaction_id if table else contact_id
    query = urlencode({"pagetype": "entityrecord", "etn": table or "contact", "id": row})
    return f"{str(org).rstrip('/')}/main.aspx?{query}"
