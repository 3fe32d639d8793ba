"""Local stand-ins of the CRM APIs, one package per platform, named like the platform.

The product's registry knows no sandbox; the demo, the tests and the benchmarks find a platform's
sandbox by its name: package ``sandbox.<platform>`` exports it as ``Sandbox``.
"""

from __future__ import annotations

import importlib
from typing import Any


def sandbox_class(platform: str) -> Any:
    """The sandbox CRM class for a registry platform name (``hubspot``, ``salesforce``, ``dynamics``)."""
    return importlib.import_module(f"{__name__}.{platform}").Sandbox
