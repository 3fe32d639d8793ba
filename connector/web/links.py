"""Links from the connector's pages back to records in the CRM.

The URL format is the platform's business: each adapter class may offer
``record_url(settings, account_id, contact_id, interaction_id, kind) -> str | None``; this module only finds it
through the registry, so no page knows a CRM's URL scheme.
"""

from __future__ import annotations

import logging
from typing import Any

from ..registry import UnknownPlatform, get_platform
from .journey_view import LinkFor

log = logging.getLogger("cem.web")


def record_links(platform: str, settings: dict[str, Any], account_id: str | None, contact_id: str) -> LinkFor:
    try:
        build = getattr(get_platform(platform).adapter_class(), "record_url", None)
    except (UnknownPlatform, ImportError):
        build = None
    if build is None:
        return lambda _iid, _kind: None

    def link(interaction_id: str, kind: str) -> str | None:
        try:
            return build(settings or {}, account_id, contact_id, interaction_id, kind)
        except Exception:  # a link is a convenience: a bad setting must not take the page down
            log.warning("no CRM link for a %s interaction on %s", kind, platform, exc_info=True)
            return None

    return link
