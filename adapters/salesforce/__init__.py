"""Salesforce: REST, SOQL and the Tooling API through simple-salesforce (see ``adapter``)."""

from __future__ import annotations

from typing import Any

__all__ = ["SalesforceAdapter"]


def __getattr__(name: str) -> Any:
    # Lazy, so the receiver can import ``consts`` without loading the CRM's SDK.
    if name == "SalesforceAdapter":
        from .adapter import SalesforceAdapter

        return SalesforceAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
