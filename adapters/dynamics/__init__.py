"""Microsoft Dynamics 365 / Dataverse: the Web API v9.2 with Entra ID tokens (see ``adapter``)."""

from __future__ import annotations

from typing import Any

__all__ = ["DynamicsAdapter"]


def __getattr__(name: str) -> Any:
    # Lazy, so the receiver can import ``consts`` without loading the CRM's SDK.
    if name == "DynamicsAdapter":
        from .adapter import DynamicsAdapter

        return DynamicsAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
