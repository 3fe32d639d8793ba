"""Bad input on every webhook endpoint (issue 7, scenario 6), over real HTTP through the whole app.

A corpus of known-bad requests, each with the 4xx it must get (malformed JSON / XML, XML entity
expansion and external entities, deep nesting, huge bodies, wrong content types and methods), then
hypothesis-generated bodies, all correctly authenticated so they reach the parsers: never a 5xx, never
a stack trace, and the process still answers /healthz afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.dataset import demo_records
from tests.faults import PLATFORMS
from tests.faults.redis_server import redis_binary
from tests.faults.scenario_input import BadInput, corpus, send
from tests.faults.webhook_http import healthy, real_delivery_body
from tests.faults.world import World

pytestmark = pytest.mark.skipif(redis_binary() is None, reason="no redis-server binary to start privately")

CORPUS_NAMES = [item.name for item in corpus("salesforce", b"<x/>")]


@pytest.fixture(scope="module", params=PLATFORMS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    platform = request.param
    w = World(platform, Path(tmp_path_factory.mktemp(f"fuzz-{platform}")), demo_records(2))
    w.valid_body = real_delivery_body(w)  # type: ignore[attr-defined]
    yield w
    assert healthy(w), "the web app must still answer after the bad input"
    w.close()


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_known_bad_input_gets_a_clear_4xx(world: World, name: str) -> None:
    item = next(i for i in corpus(world.platform, world.valid_body) if i.name == name)  # type: ignore[attr-defined]
    status, body = send(world, item)
    assert status in item.expect, f"{name}: {status} {body[:200]}"
    assert "Traceback" not in body and "File \"" not in body
    assert "root:x:0:0" not in body, "an external entity was resolved"
    assert len(body) < 4000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["eventId", "portalId", "objectId", "occurredAt", "subscriptionType", "propertyName",
                         "MessageName", "PrimaryEntityName", "PrimaryEntityId", "OrganizationId",
                         "OperationCreatedOn", "InputParameters", "organizationId", "events", "recordId",
                         "changeType"]) | st.text(max_size=8),
        children, max_size=6),
    max_leaves=25)
xml_fragments = st.lists(st.sampled_from([
    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">", "<soapenv:Body>",
    "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">",
    "<OrganizationId>00D8d0000000001</OrganizationId>",
    "<Notification>", "<Id>04l8d0000000001AAA</Id>", "<sObject xsi:type=\"sf:Contact\" "
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">",
    "<sf:Id>0038d0000000001AAA</sf:Id>", "</sObject>", "</Notification>", "</notifications>", "</soapenv:Body>",
    "</soapenv:Envelope>", "&amp;", "&foo;", "<![CDATA[x]]>", "<!-- c -->", "<?xml version=\"1.0\"?>", "\x00", "<",
]), max_size=14).map(lambda parts: "".join(parts).encode())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=2048), json_values.map(lambda v: json.dumps(v).encode()), xml_fragments))
def test_fuzzed_bodies_never_give_a_5xx(world: World, body: bytes) -> None:
    status, text = send(world, BadInput("fuzz", body, ()))
    assert status is not None and status < 500, f"{status}: {text[:300]}"
    assert "Traceback" not in text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=4000),
       flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=6))
def test_mutated_real_deliveries_never_give_a_5xx(world: World, cut: int, flips: list[tuple[int, int]]) -> None:
    body = bytearray(world.valid_body)  # type: ignore[attr-defined]
    for position, value in flips:
        if body:
            body[position % len(body)] = value
    status, text = send(world, BadInput("mutated", bytes(body[: max(1, cut)] if cut < len(body) else body), ()))
    assert status is not None and status < 500, f"{status}: {text[:300]}"
