"""Dataverse HTTP error mapping, unit level (``responses``): statuses, error bodies, batch parsing."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from adapters.dynamics.batch import parse_batch_response
from adapters.dynamics.client import WebApiClient
from adapters.errors import InvalidRequest, PermissionDenied, TransientError

ROOT = "https://contoso.crm.dynamics.com/api/data/v9.2/"


class StaticTokens:
    def __init__(self) -> None:
        self.invalidated = 0

    def token(self) -> str:
        return "token"

    def invalidate(self) -> None:
        self.invalidated += 1


def client(**settings: Any) -> WebApiClient:
    return WebApiClient({"org_url": "https://contoso.crm.dynamics.com", "max_inline_wait": 0.5, **settings},
                        StaticTokens())  # type: ignore[arg-type]


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@responses.activate
def test_403_tells_the_admin_about_the_security_role() -> None:
    responses.get(ROOT + "WhoAmI", status=403, json=error("0x80040220", "Principal user is missing prvReadContact"))
    with pytest.raises(PermissionDenied, match="security role"):
        client().get_json("WhoAmI")


@responses.activate
def test_400_is_invalid_request_with_the_dataverse_message() -> None:
    responses.get(ROOT + "contacts", status=400, json=error("0x80060888", "Could not find a property named 'x'"))
    with pytest.raises(InvalidRequest, match="Could not find a property named 'x'"):
        client().get_json("contacts")


@responses.activate
def test_5xx_is_retried_then_transient() -> None:
    responses.get(ROOT + "WhoAmI", status=503, headers={"Retry-After": "0"})
    with pytest.raises(TransientError):
        client(max_attempts=3).get_json("WhoAmI")
    assert len(responses.calls) == 3


@responses.activate
def test_401_drops_the_cached_token_once() -> None:
    responses.get(ROOT + "WhoAmI", status=401)
    responses.get(ROOT + "WhoAmI", status=200, json={"UserId": "u"})
    api = client()
    assert api.get_json("WhoAmI") == {"UserId": "u"}
    assert api.tokens.invalidated == 1  # type: ignore[attr-defined]


def test_next_link_to_another_host_is_refused() -> None:
    with pytest.raises(Exception, match="not the configured"):
        client().url("https://evil.example.com/api/data/v9.2/contacts")


def test_batch_response_with_failed_change_set() -> None:
    body = (
        b"--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_a\r\n\r\n"
        b"--changesetresponse_a\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        b"Content-ID: 1\r\n\r\nHTTP/1.1 204 No Content\r\nOData-EntityId: x\r\n\r\n\r\n--changesetresponse_a--\r\n"
        b"--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        b"Content-ID: 3\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n"
        b'{"error":{"code":"0x80040217","message":"contact With Id = 1 Does Not Exist"}}\r\n'
        b"--batchresponse_1--\r\n")
    ok, failed = parse_batch_response("multipart/mixed; boundary=batchresponse_1", body)
    assert isinstance(ok, list) and ok[0].status == 204 and ok[0].content_id == "1"
    assert not isinstance(failed, list) and (failed.status, failed.content_id) == (404, "3")
    assert "Does Not Exist" in failed.error_text()
