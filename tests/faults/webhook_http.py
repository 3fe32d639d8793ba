"""Send webhooks to a World's connector over real HTTP, authenticated the way each CRM does it.

- HubSpot: ``X-HubSpot-Signature-v3`` = base64 HMAC-SHA256(secret, method + URL + body + timestamp ms)
  with ``X-HubSpot-Request-Timestamp`` (5-minute window).
- Salesforce outbound message (text/xml): the secret in the URL (``?token=``), no timestamp; the signed
  JSON form: ``X-CEM-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (5-minute window).
- Dataverse WebhookKey: the secret in the URL (``?code=``), no timestamp.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from webhooks import hubspot, salesforce

from .world import World


@dataclass
class Answer:
    status: int
    body: str


def content_type(platform: str) -> str:
    return "text/xml; charset=utf-8" if platform == "salesforce" else "application/json"


def signed(world: World, body: bytes, *, secret: str | None = None, timestamp: float | None = None,
           ctype: str | None = None, auth: bool = True) -> tuple[str, dict[str, str]]:
    """(url, headers) for a POST of ``body`` authenticated with ``secret`` (default: the connection's)."""
    secret = world.secret if secret is None else secret
    ctype = content_type(world.platform) if ctype is None else ctype
    headers = {"Content-Type": ctype} if ctype else {}
    url = world.webhook_url
    moment = time.time() if timestamp is None else timestamp
    if not auth:
        return url, headers
    if world.platform == "hubspot":
        headers.update(hubspot.signature_headers(secret, url, body, int(moment * 1000)))
    elif world.platform == "salesforce" and ctype.startswith("application/json"):
        headers.update(salesforce.signature_header(secret, body, moment))
    elif world.platform == "salesforce":
        url = f"{url}?token={quote(secret, safe='')}"
    else:
        url = f"{url}?code={quote(secret, safe='')}"
    return url, headers


def post(world: World, body: bytes, *, method: str = "POST", timeout: float = 30.0, **options: Any) -> Answer:
    url, headers = signed(world, body, **options)
    with requests.Session() as session:
        session.trust_env = False  # loopback only, never through a proxy
        response = session.request(method, url, data=body, headers=headers, timeout=timeout)
    return Answer(response.status_code, response.text)


def real_delivery_body(world: World, contact_id: str | None = None) -> bytes:
    """The body the CRM itself sends when a contact changes (captured, not sent)."""
    target = contact_id or world.contact_ids()[0]
    deliveries = world.capture(lambda: world.sandbox.emit_contact_changes([target]))
    return deliveries[0].body


def healthy(world: World) -> bool:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(f"{world.server.url}/healthz", timeout=10).status_code == 200
