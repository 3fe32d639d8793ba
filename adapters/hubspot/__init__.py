"""HubSpot: the CRM v3/v4 API through hubspot-api-client (see ``adapter`` for endpoints and sources)."""

from .adapter import HubSpotAdapter

__all__ = ["HubSpotAdapter"]
