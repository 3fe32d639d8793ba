"""Scenario 6: bad input on every webhook endpoint, over real HTTP through the whole web app.

A fixed corpus of known-bad requests (each with the 4xx it must get) plus seeded random fuzz
(random bytes, random JSON, mutations of a real delivery), all correctly authenticated so they reach
the parser. Never a 5xx, never a stack trace, no XML entity expanded or external entity fetched,
and the process still answers /healthz afterwards.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from sandbox.dataset import demo_records

from .outcome import Row
from .webhook_http import healthy, post, real_delivery_body
from .world import World, scenario_world

BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
                  b'<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
                  b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
                  b'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&lol4;'
                  b'</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>')
XXE_FILE = (b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
            b'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&xxe;</OrganizationId>'
            b'</notifications></soapenv:Body></soapenv:Envelope>')
XXE_PARAMETER = (b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd">'
                 b'%remote;]><notifications/>')
DEEP_XML = b"<a>" * 50_000 + b"</a>" * 50_000
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


@dataclass(frozen=True)
class BadInput:
    name: str
    body: bytes
    expect: tuple[int, ...]  # acceptable statuses
    ctype: str | None = None
    method: str = "POST"
    auth: bool = True


def corpus(platform: str, valid: bytes) -> Iterator[BadInput]:
    xml = platform == "salesforce"
    malformed = 400
    yield BadInput("empty body", b"", (400,))
    yield BadInput("truncated", valid[: len(valid) // 2], (malformed,))
    yield BadInput("invalid UTF-8", b"\xff\xfe\xfa" + valid, (400,))
    yield BadInput("NUL bytes", valid.replace(b"<", b"\x00<", 3) if xml else b'{"a":"\x00"}\x00', (400,))
    yield BadInput("deep nesting (100,000 levels)", DEEP_XML if xml else DEEP_JSON, (400,))
    yield BadInput("the other format (JSON for XML, XML for JSON)", b'{"a": 1}' if xml else b"<a>1</a>", (400,))
    yield BadInput("XML entity expansion (billion laughs)", BILLION_LAUGHS, (400,) if xml else (400, 415),
                   ctype="text/xml" if xml else None)
    yield BadInput("XXE external file entity", XXE_FILE, (400,) if xml else (400, 415),
                   ctype="text/xml" if xml else None)
    yield BadInput("XXE parameter entity / external DTD", XXE_PARAMETER, (400,) if xml else (400, 415),
                   ctype="text/xml" if xml else None)
    yield BadInput("wrong content type text/plain", valid, (415,), ctype="text/plain")
    yield BadInput("wrong content type form", valid, (415,), ctype="application/x-www-form-urlencoded")
    yield BadInput("no content type", valid, (415,), ctype="")
    yield BadInput("body over the receiver limit (3 MB)", valid + b" " * 3_000_000, (413,))
    yield BadInput("body over the app limit (5 MB)", b" " * 5_000_000, (413,))
    yield BadInput("GET", b"", (405,), method="GET")
    yield BadInput("PUT", valid, (405,), method="PUT")
    yield BadInput("unauthenticated", valid, (401, 403), auth=False)
    yield BadInput("JSON scalar", b'"just a string"', (400,), ctype="application/json")
    yield BadInput("JSON with huge number", b"[" + b"9" * 5000 + b"]", (400,), ctype="application/json")


def fuzz_bodies(valid: bytes, count: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for index in range(count):
        kind = index % 3
        if kind == 0:
            yield bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 512)))
        elif kind == 1:
            yield json.dumps(_random_json(rng, 4)).encode()
        else:
            mutated = bytearray(valid)
            for _ in range(rng.randint(1, 8)):
                if mutated:
                    mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
            if rng.random() < 0.3:
                del mutated[rng.randrange(len(mutated) + 1):]
            yield bytes(mutated)


def _random_json(rng: random.Random, depth: int) -> object:
    choice = rng.randrange(7 if depth > 0 else 5)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randint(-(2**70), 2**70)
    if choice == 3:
        return rng.choice(["", "0-1", "contact.propertyChange", "x" * rng.randint(0, 300), "/Date(1)/", "\u202e"])
    if choice == 4:
        return rng.random() * 1e300
    if choice == 5:
        return [_random_json(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    keys = ["eventId", "portalId", "objectId", "occurredAt", "subscriptionType", "MessageName", "PrimaryEntityId",
            "OrganizationId", "InputParameters", "events", "organizationId", "x"]
    return {rng.choice(keys): _random_json(rng, depth - 1) for _ in range(rng.randint(0, 6))}


def send(world: World, item: BadInput) -> tuple[int | None, str]:
    try:
        answer = post(world, item.body, method=item.method, ctype=item.ctype, auth=item.auth)
    except requests.ConnectionError as error:
        # the server may close the connection after answering 413 without reading a huge body
        return None, f"connection closed: {type(error).__name__}"
    return answer.status, answer.body


def run(platform: str, directory: Path, examples: int = 60, seed: int = 5) -> Row:
    row = Row("6 bad input (fuzz, XXE, huge, deep)", platform)
    with scenario_world(row, platform, directory, demo_records(3)) as world:
        valid = real_delivery_body(world)
        wrong: list[str] = []
        leaks = 0
        for item in corpus(platform, valid):
            status, body = send(world, item)
            row.sent += 1
            leaks += "Traceback" in body or "root:x:0:0" in body
            if status not in item.expect:
                wrong.append(f"{item.name}: {status} (want {item.expect})")
        server_errors = 0
        for body in fuzz_bodies(valid, examples, seed):
            status, text = send(world, BadInput("fuzz", body, ()))
            row.sent += 1
            leaks += "Traceback" in text
            if status is None or status >= 500:
                server_errors += 1
                wrong.append(f"fuzz body {body[:40]!r}: {status}")
        alive = healthy(world)
        row.applied = row.sent - len(wrong)  # here: requests answered with the right 4xx
        row.ok = not wrong and not leaks and alive
        row.detail = (f"{row.sent} requests: {len(wrong)} wrong answers, {server_errors} 5xx, {leaks} leaks; "
                      f"healthz after: {'200' if alive else 'DOWN'}")
        if wrong:
            row.detail += "; " + "; ".join(wrong[:3])
    return row
