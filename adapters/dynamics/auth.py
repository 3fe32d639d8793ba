"""Entra ID client-credentials tokens for the Dataverse Web API, through msal.

msal keeps the token in its in-memory cache and only calls the token endpoint again when the
cached token is (nearly) expired; ``invalidate`` drops it after the API answered 401 (revoked or
rotated secret). ``instance_discovery=False``: msal would otherwise ask login.microsoftonline.com
about any authority host it does not know (sovereign/test hosts); for Microsoft's own hosts it
skips discovery anyway, so real connections behave exactly as msal's defaults.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import msal
import requests

from ..endpoints import EndpointPolicy
from ..errors import AuthenticationError, ConfigurationError, TransientError
from .consts import PLATFORM

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
# Dataverse environments (<org>.crm[N].dynamics.com; US government .microsoftdynamics.us / .appsplatform.us;
# China .dynamics.cn) and the Entra ID authorities of those clouds
VENDOR_DOMAINS = ("dynamics.com", "microsoftdynamics.us", "appsplatform.us", "dynamics.cn",
                  "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
                  "login.partner.microsoftonline.cn")


def endpoint_policy(settings: Mapping[str, Any], production: bool = False) -> EndpointPolicy:
    return EndpointPolicy.of(PLATFORM, "Dynamics 365", VENDOR_DOMAINS, settings, production)
# AADSTS codes that mean "the app registration or its secret is wrong" rather than "try again"
_CONFIG_ERRORS = {"invalid_scope", "unauthorized_client", "invalid_tenant", "invalid_request",
                  "unsupported_grant_type"}


class TokenProvider:
    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any],
                 policy: EndpointPolicy | None = None) -> None:
        missing = [k for k in ("tenant_id", "client_id", "org_url") if not settings.get(k)]
        if missing or not credentials.get("client_secret"):
            raise ConfigurationError(
                "Dynamics connection is incomplete: set " + ", ".join(missing + (
                    [] if credentials.get("client_secret") else ["client_secret (credential)"]))
                + " from the Entra app registration and the environment URL.", platform=PLATFORM)
        policy = policy or endpoint_policy(settings)
        self.scope = f"{policy.check(settings['org_url'], 'org_url')}/.default"
        authority_host = policy.check(settings.get("authority_host") or DEFAULT_AUTHORITY_HOST, "authority_host")
        self._authority = f"{authority_host}/{settings['tenant_id']}"
        self._client_id = str(settings["client_id"])
        self._secret = str(credentials["client_secret"])
        self._ca_bundle = settings.get("ca_bundle")
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self.token_requests = 0  # how often we asked msal (cache hits included)

    def _client(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            session = requests.Session()
            if self._ca_bundle:
                # An explicit CA bundle must win over REQUESTS_CA_BUNDLE & co., which requests
                # would otherwise prefer to session.verify.
                session.verify = str(self._ca_bundle)
                session.trust_env = False
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id, client_credential=self._secret, authority=self._authority,
                    http_client=session, instance_discovery=False)
            except ValueError as exc:  # msal: unknown tenant / unreachable discovery document
                raise ConfigurationError(
                    f"Entra ID rejected the authority {self._authority}: check tenant_id ({exc}).",
                    platform=PLATFORM) from exc
            except requests.RequestException as exc:
                raise TransientError(f"Could not reach Entra ID at {self._authority}: {exc}",
                                     platform=PLATFORM) from exc
        return self._app

    def token(self) -> str:
        with self._lock:
            app = self._client()
            self.token_requests += 1
            try:
                result = app.acquire_token_for_client(scopes=[self.scope])
            except requests.RequestException as exc:
                raise TransientError(f"Could not reach Entra ID: {exc}", platform=PLATFORM) from exc
            except msal.exceptions.MsalServiceError as exc:
                raise TransientError(f"Entra ID token endpoint failed: {exc}", platform=PLATFORM) from exc
        if "access_token" in result:
            return str(result["access_token"])
        error = str(result.get("error", "unknown_error"))
        description = str(result.get("error_description", "")).split("\r\n")[0]
        if error == "invalid_client":
            raise AuthenticationError(
                f"Entra ID refused the client secret ({description}). Create a new secret under App "
                "registrations > Certificates & secrets and reconnect.", status=401, platform=PLATFORM)
        if error in _CONFIG_ERRORS:
            raise ConfigurationError(
                f"Entra ID refused the token request ({error}: {description}). Check client_id, tenant_id and "
                f"that the scope {self.scope} is the environment URL.", platform=PLATFORM)
        raise TransientError(f"Entra ID token request failed ({error}: {description}).", platform=PLATFORM)

    def invalidate(self) -> None:
        with self._lock:
            if self._app is not None:
                self._app.remove_tokens_for_client()
