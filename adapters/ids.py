"""Record and account ids as the CRMs write them, reduced to one comparable form (the one place that does it).

- Salesforce ids exist as 15 case-sensitive characters and as 18, the 15 plus a 3-character checksum
  of the case of the first 15 (so the 18-character form survives case-insensitive tools). Outbound
  messages and APIs use either. ``salesforce_id18`` turns both into the 18-character form.
- Dataverse organisation ids are GUIDs, written in any case (and sometimes in braces).
- Dataverse's ``x-ms-dynamics-organization`` header is the environment's host name
  (``contoso.crm.dynamics.com``); connections know their ``org_url``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _salesforce_checksum(id15: str) -> str:
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << offset for offset, char in enumerate(id15[start:start + 5]) if "A" <= char <= "Z")
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def salesforce_id18(value: str) -> str:
    """The 18-character form of a 15- or 18-character Salesforce id; anything else unchanged.

    An 18-character id whose suffix does not match its first 15 characters is left as it is
    (it then matches nothing, rather than being taken for another record)."""
    text = value.strip()
    if len(text) == 15 and text.isalnum():
        return text + _salesforce_checksum(text)
    if len(text) == 18 and text.isalnum() and text[15:].upper() == _salesforce_checksum(text[:15]):
        return text[:15] + text[15:].upper()
    return text


def guid(value: str) -> str:
    """A GUID in lower case without braces."""
    return value.strip().strip("{}").lower()


def host_name(value: str) -> str:
    """The host name of a URL or of a ``host[:port]`` header value, lower case, without a trailing dot."""
    text = value.strip()
    host = urlsplit(text if "://" in text else f"//{text}").hostname or ""
    return host.rstrip(".").lower()
