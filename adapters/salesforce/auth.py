"""Getting a Salesforce session: OAuth 2.0 JWT bearer, SOAP password login, or an existing session.

Every URL comes from the connection settings (``login_url``, ``instance_url``), so the same
code talks to login.salesforce.com, test.salesforce.com, a My Domain or the local sandbox.
simple-salesforce's own login helpers hard-code ``https://<domain>.salesforce.com`` and drop
the identity (org and user ids) we need for loop prevention, so the two token requests are
made here, with the exact shapes simple-salesforce and the Salesforce docs use:

* JWT bearer: RS256 assertion ``{iss: consumer key, sub: username, aud: https://login|test.salesforce.com,
  exp: now + 3 min}`` posted as ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` to
  ``<login_url>/services/oauth2/token``; the answer's ``id`` is the identity URL
  ``.../id/<orgId>/<userId>`` (developer.salesforce.com "Using Identity URLs").
* Password: the SOAP partner ``login`` call at ``<login_url>/services/Soap/u/<version>`` with the
  password and security token joined, as simple-salesforce's ``SalesforceLogin`` sends it; the
  answer carries ``sessionId``, ``serverUrl``, ``userId`` and ``userInfo/organizationId``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse
from xml.sax.saxutils import escape

import jwt
import requests
from defusedxml import ElementTree

from ..endpoints import EndpointPolicy
from ..errors import AuthenticationError, ConfigurationError, TransientError
from .consts import PLATFORM

DEFAULT_API_VERSION = "59.0"
PRODUCTION_LOGIN = "https://login.salesforce.com"
SANDBOX_LOGIN = "https://test.salesforce.com"
AUTH_MODES = ("jwt", "password", "session")
TIMEOUT = 30.0
# login.salesforce.com, test.salesforce.com, <instance>.salesforce.com, <name>.my.salesforce.com,
# <name>--<sandbox>.sandbox.my.salesforce.com and the older <name>.my.force.com / *.force.com hosts
VENDOR_DOMAINS = ("salesforce.com", "force.com")


@dataclass(frozen=True)
class SalesforceSession:
    access_token: str
    instance_url: str  # scheme://host[:port], no trailing slash
    org_id: str | None = None
    user_id: str | None = None


def endpoint_policy(settings: Mapping[str, Any], production: bool = False) -> EndpointPolicy:
    return EndpointPolicy.of(PLATFORM, "Salesforce", VENDOR_DOMAINS, settings, production)


def checked_base_url(url: str, setting: str, policy: EndpointPolicy | None = None) -> str:
    """``scheme://host[:port]`` of a URL we may send the session or password to (see ``adapters.endpoints``)."""
    parsed = urlparse((policy or endpoint_policy({})).check(url, setting))
    return f"{parsed.scheme}://{parsed.netloc}"


def is_sandbox_org(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("sandbox")) or settings.get("domain") == "test"


def login_url(settings: Mapping[str, Any], policy: EndpointPolicy | None = None) -> str:
    default = SANDBOX_LOGIN if is_sandbox_org(settings) else PRODUCTION_LOGIN
    return checked_base_url(settings.get("login_url") or default, "login_url", policy)


def api_version(settings: Mapping[str, Any]) -> str:
    version = str(settings.get("api_version") or DEFAULT_API_VERSION).lstrip("vV")
    try:
        float(version)
    except ValueError:
        raise ConfigurationError(f"Setting 'api_version' must look like 59.0 (got '{version}').",
                                 platform=PLATFORM) from None
    return version


def auth_mode(settings: Mapping[str, Any], credentials: Mapping[str, Any]) -> str:
    mode = settings.get("auth")
    if mode is None:
        mode = "jwt" if credentials.get("private_key") else "password" if credentials.get("password") else "session"
    if mode not in AUTH_MODES:
        raise ConfigurationError(f"Setting 'auth' must be one of {', '.join(AUTH_MODES)} (got '{mode}').",
                                 platform=PLATFORM)
    return str(mode)


def login(settings: Mapping[str, Any], credentials: Mapping[str, Any], http: requests.Session,
          policy: EndpointPolicy | None = None) -> SalesforceSession:
    """A fresh session for the configured auth mode; raises AuthenticationError with what to fix."""
    mode = auth_mode(settings, credentials)
    if mode == "jwt":
        return jwt_bearer_login(settings, credentials, http, policy)
    if mode == "password":
        return password_login(settings, credentials, http, policy)
    token = credentials.get("access_token") or credentials.get("session_id")
    instance = settings.get("instance_url") or credentials.get("instance_url")
    if not token or not instance:
        raise ConfigurationError("The 'session' auth mode needs credentials.access_token and settings.instance_url.",
                                 platform=PLATFORM)
    return SalesforceSession(str(token), checked_base_url(instance, "instance_url", policy))


def _require(mapping: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [key for key in keys if not mapping.get(key)]
    if missing:
        raise ConfigurationError(f"Missing {where} for Salesforce: {', '.join(missing)}.", platform=PLATFORM)


def jwt_bearer_login(settings: Mapping[str, Any], credentials: Mapping[str, Any],
                     http: requests.Session, policy: EndpointPolicy | None = None) -> SalesforceSession:
    _require(settings, ("username",), "settings")
    _require(credentials, ("consumer_key", "private_key"), "credentials")
    audience = SANDBOX_LOGIN if is_sandbox_org(settings) else PRODUCTION_LOGIN
    claims = {"iss": credentials["consumer_key"], "sub": settings["username"], "aud": audience,
              "exp": int(time.time()) + 180}
    try:
        assertion = jwt.encode(claims, credentials["private_key"], algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise ConfigurationError("credentials.private_key is not a usable RSA private key (PEM).",
                                 platform=PLATFORM) from exc
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    response = _post(http, f"{login_url(settings, policy)}/services/oauth2/token", data=data)
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not body.get("access_token"):
        error = body.get("error", f"HTTP {response.status_code}")
        description = body.get("error_description", "")
        raise AuthenticationError(
            f"Salesforce refused the JWT bearer login ({error}: {description}). Check that the connected app "
            "holds the certificate of this private key, that its consumer key is right, that the user is "
            "pre-authorized (Manage Connected Apps > Permitted Users: Admin approved users are pre-authorized, "
            "plus the user's profile or a permission set), and that 'sandbox' matches the org type.",
            status=response.status_code, platform=PLATFORM)
    org_id, user_id = _ids_from_identity_url(str(body.get("id") or ""))
    return SalesforceSession(str(body["access_token"]), checked_base_url(body.get("instance_url", ""),
                                                                          "instance_url", policy), org_id, user_id)


def _ids_from_identity_url(url: str) -> tuple[str | None, str | None]:
    parts = urlparse(url).path.strip("/").split("/")
    if len(parts) >= 3 and parts[-3] == "id":
        return parts[-2], parts[-1]
    return None, None


def password_login(settings: Mapping[str, Any], credentials: Mapping[str, Any],
                   http: requests.Session, policy: EndpointPolicy | None = None) -> SalesforceSession:
    _require(settings, ("username",), "settings")
    _require(credentials, ("password",), "credentials")
    version = api_version(settings)
    secret = f"{credentials['password']}{credentials.get('security_token') or ''}"
    envelope = (
        '<?xml version="1.0" encoding="utf-8" ?>'
        '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">'
        "<env:Header><urn:CallOptions><urn:client>cem-connector</urn:client>"
        "<urn:defaultNamespace>sf</urn:defaultNamespace></urn:CallOptions></env:Header>"
        '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{escape(str(settings['username']))}</n1:username>"
        f"<n1:password>{escape(secret)}</n1:password>"
        "</n1:login></env:Body></env:Envelope>")
    response = _post(http, f"{login_url(settings, policy)}/services/Soap/u/{version}", data=envelope.encode(),
                     headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"})
    values = _soap_values(response.content, ("sessionId", "serverUrl", "userId", "organizationId",
                                             "exceptionCode", "exceptionMessage"))
    if response.status_code != 200 or not values.get("sessionId") or not values.get("serverUrl"):
        code = values.get("exceptionCode") or f"HTTP {response.status_code}"
        raise AuthenticationError(
            f"Salesforce refused the password login ({code}: {values.get('exceptionMessage', '')}). Check the "
            "username, password and security token (reset it under My Settings > Reset My Security Token), "
            "and use the sandbox login for sandbox orgs.", status=response.status_code, platform=PLATFORM)
    return SalesforceSession(values["sessionId"], checked_base_url(values["serverUrl"], "serverUrl", policy),
                             values.get("organizationId"), values.get("userId"))


def _soap_values(content: bytes, names: tuple[str, ...]) -> dict[str, str]:
    try:
        root = ElementTree.fromstring(content)
    except Exception:
        return {}
    found: dict[str, str] = {}
    for element in root.iter():
        local = str(element.tag).rsplit("}", 1)[-1]
        if local in names and local not in found:
            found[local] = (element.text or "").strip()
    return found


def _post(http: requests.Session, url: str, **kwargs: Any) -> requests.Response:
    try:
        return http.post(url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        raise TransientError(f"Could not reach the Salesforce login endpoint: {type(exc).__name__}.",
                             platform=PLATFORM) from exc
