"""HubSpot: the CRM v3/v4 API through hubspot-api-client (see ``adapter`` for endpoints and sources)."""

from __future__ import annotations

from typing import Any

__all__ = ["HubSpotAdapter"]


def __getattr__(name: str) -> Any:
    # Lazy, so the receiver can import ``consts`` without loading the CRM's SDK.
    if name == "HubSpotAdapter":
        from .adapter import HubSpotAdapter

        return HubSpotAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
