"""Every CRM client spends its connection's shared call budget (``ApiClient`` + ``CallBudget`` on a real Redis).

Two clients of one connection stand for two worker processes: what one spends, the other cannot. The
HTTP side is ``responses`` (unit level): a refused slot must mean no request at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import responses

from adapters.base import ConnectionInfo
from adapters.client import CallLimit
from adapters.dynamics import consts as dynamics_consts
from adapters.dynamics.client import WebApiClient
from adapters.errors import RateLimited
from adapters.hubspot.client import HubSpotClient
from adapters.hubspot.consts import BURST_LIMIT
from adapters.salesforce import consts as salesforce_consts
from adapters.salesforce.client import SalesforceClient
from connector.queue import JobQueue

ORG = "https://contoso.crm.dynamics.com"
SF = "https://cem-budget-test.my.salesforce.com"  # its own org: usage is kept per instance


@pytest.fixture
def queue(redis_server_url: str) -> Iterator[JobQueue]:
    connection = redis.Redis.from_url(redis_server_url)
    q = JobQueue(connection, f"test-{uuid.uuid4().hex[:8]}")
    yield q
    for key in connection.scan_iter(f"{q.prefix}*"):
        connection.delete(key)


class StaticTokens:
    def token(self) -> str:
        return "token"

    def invalidate(self) -> None:
        pass


def dataverse(gate: Any) -> WebApiClient:
    return WebApiClient({"org_url": ORG, "max_inline_wait": 0.5}, StaticTokens(), gate=gate)  # type: ignore[arg-type]


def salesforce(gate: Any, budget: str) -> SalesforceClient:
    info = ConnectionInfo(1, "salesforce", {"auth": "session", "instance_url": SF, "daily_api_budget": budget},
                          {"access_token": "00D-session"}, call_gate=gate)
    return SalesforceClient(info, sleep=lambda _: None)


def spend(gate: Any, limit: CallLimit, calls: int) -> None:
    for _ in range(calls):  # bounded: the limit's own size
        assert gate(limit.calls, limit.window) == 0.0


def test_the_platforms_publish_their_limits() -> None:
    assert (dynamics_consts.REQUEST_LIMIT.calls, dynamics_consts.REQUEST_LIMIT.window) == (6_000, 300.0)
    assert dynamics_consts.MAX_CONCURRENT_REQUESTS == 52
    assert salesforce_consts.DAILY_ALLOCATION.window == 86_400.0
    assert BURST_LIMIT.calls == 100 and BURST_LIMIT.window == 10.0


@responses.activate
def test_dataverse_calls_stop_when_another_worker_spent_the_window(queue: JobQueue) -> None:
    responses.get(ORG + "/api/data/v9.2/WhoAmI", json={"UserId": "u"})
    mine, other_worker = queue.budget.gate(41), queue.budget.gate(41)
    client = dataverse(mine)
    assert client.call_limit() == dynamics_consts.REQUEST_LIMIT
    client.get_json("WhoAmI")
    spend(other_worker, dynamics_consts.REQUEST_LIMIT, dynamics_consts.REQUEST_LIMIT.calls - 1)
    with pytest.raises(RateLimited) as info:
        client.get_json("WhoAmI")
    assert len(responses.calls) == 1  # the refused call never went out
    assert 0.5 < (info.value.retry_after or 0) <= 303.0 and "service protection limit" in str(info.value)
    assert dataverse(queue.budget.gate(42)).get_json("WhoAmI") == {"UserId": "u"}  # another connection


@responses.activate
def test_salesforce_spends_its_share_of_the_daily_allocation_through_the_shared_budget(queue: JobQueue) -> None:
    responses.get(SF + "/services/data/v59.0/query/", json={"done": True, "records": [{"Id": "003x"}]})
    first, second = salesforce(queue.budget.gate(43), "3"), salesforce(queue.budget.gate(43), "3")
    assert first.call_limit() == CallLimit(3, 86_400.0, "daily API request allocation")
    assert [len(c.query("SELECT Id FROM Contact")) for c in (first, second, first)] == [1, 1, 1]
    with pytest.raises(RateLimited) as info:
        second.query("SELECT Id FROM Contact")
    assert len(responses.calls) == 3 and (info.value.retry_after or 0) > 80_000
    # a share (the default 80 %) needs the org's total, which the first response's header reports
    fresh = salesforce(queue.budget.gate(44), "")
    assert fresh.call_limit() is None
    fresh.query("SELECT Id FROM Contact")
    assert fresh.call_limit() is None  # this stub sends no Sforce-Limit-Info header
    assert in_window(queue, 44) == 1  # ungated, yet counted: the other workers' gate must see it


def in_window(queue: JobQueue, connection_id: int) -> int:
    return int(queue.budget.redis.zcard(queue.keys.budget(connection_id)))


def test_hubspot_paces_on_the_limit_the_account_reports(queue: JobQueue) -> None:
    info = ConnectionInfo(2, "hubspot", {"api_base_url": "http://127.0.0.1:9"}, {"access_token": "pat"},
                          call_gate=queue.budget.gate(45))
    client = HubSpotClient(info)
    # before the first response the account's limit is unknown: that one call is not gated at the
    # published floor (100), which would starve a new worker while others spend a Professional account's 190
    assert client.call_limit() is None
    # ...but it is counted in the shared window, even a full one (the CRM counts it whatever we do): a
    # new process's uncounted first calls let the others' gate admit calls that HubSpot then refused
    spend(queue.budget.gate(45), BURST_LIMIT, BURST_LIMIT.calls)
    client._take_budget()
    assert in_window(queue, 45) == BURST_LIMIT.calls + 1
    client.usage.update({"limit": 190, "interval_ms": 10_000})  # Professional
    assert client.call_limit() == CallLimit(190, 10.0, "burst limit")


def test_without_a_gate_nothing_is_paced_through_redis() -> None:
    client = dataverse(None)
    client._take_budget()  # one-off clients (connect, install) rely on the CRM's own 429s
    assert client.calls == 0
