"""Where an adapter may send credentials: the vendor's own hosts, over https.

Every base URL a connection names (HubSpot API base and consent page, Salesforce login and instance,
Dataverse environment and Entra authority), and every URL a CRM hands back (Salesforce's
``instance_url``), goes through ``EndpointPolicy.check`` before the first request. In production a
mistyped or hostile setting would otherwise send the bearer token or the password to someone else,
so there only https on one of the platform's documented domains passes. The connection setting
``private_endpoint: true`` opens any host on purpose (a corporate proxy, a test CRM such as the
bundled sandbox); the adapter then logs a warning naming the host. Outside production: https on any
host, plain http only on loopback (the local sandboxes).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

log = logging.getLogger("cem.adapters.endpoints")

PRIVATE_ENDPOINT = "private_endpoint"  # connection setting: allow a non-vendor host, with a warning
_TRUE = {"1", "true", "yes", "on"}
_warned: set[tuple[str, str]] = set()


def is_private_endpoint(settings: Mapping[str, Any]) -> bool:
    return str(settings.get(PRIVATE_ENDPOINT) or "").strip().lower() in _TRUE


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def on_domain(host: str, domains: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


@dataclass(frozen=True)
class EndpointPolicy:
    platform: str
    label: str
    vendor_domains: tuple[str, ...]
    production: bool = False
    private_endpoint: bool = False

    @classmethod
    def of(cls, platform: str, label: str, vendor_domains: tuple[str, ...], settings: Mapping[str, Any],
           production: bool) -> EndpointPolicy:
        return cls(platform, label, vendor_domains, production, is_private_endpoint(settings))

    def check(self, url: Any, setting: str) -> str:
        """``url`` unchanged (trailing slash removed) when it may receive credentials; else ConfigurationError."""
        text = str(url or "").strip().rstrip("/")
        parts = urlsplit(text)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host:
            raise ConfigurationError(f"Setting '{setting}' must be an https:// URL (got '{text[:200]}').",
                                     platform=self.platform)
        vendor = on_domain(host, self.vendor_domains)
        if self.production and not self.private_endpoint and not (vendor and parts.scheme == "https"):
            raise ConfigurationError(
                f"Setting '{setting}' points to {parts.scheme}://{host}, which is not a {self.label} host "
                f"(https on {', '.join(self.vendor_domains)}). In production the connector sends credentials only "
                f"to the vendor's own hosts. Fix the URL, or, to use a private endpoint on purpose (a proxy, a test "
                f"CRM), set private_endpoint=true on the connection.", platform=self.platform)
        if parts.scheme == "http" and not is_loopback(host):
            raise ConfigurationError(f"Setting '{setting}' must be an https:// URL (got http://{host}); plain http "
                                     "is allowed only for a CRM stand-in on this machine.", platform=self.platform)
        if self.production and not vendor and (self.platform, host) not in _warned:
            _warned.add((self.platform, host))
            log.warning("%s connection uses a private endpoint: %s '%s' is %s, not a %s host (private_endpoint=true)",
                        self.label, setting, host, parts.scheme, self.label)
        return text
