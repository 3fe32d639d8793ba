"""HubSpot CRM search as the OpenAPI spec and the search guide define it: ``after`` is a string cursor
(adapter and sandbox), at most 5 filter groups of 6 filters, 18 in total (400 VALIDATION_ERROR beyond)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.base import ConnectionInfo
from adapters.hubspot import HubSpotAdapter
from tests.test_sandbox_hubspot import RECORDS, api

sandbox_module = pytest.importorskip("sandbox.hubspot")


@pytest.fixture
def hub() -> Iterator[object]:
    sandbox = sandbox_module.HubSpotSandbox()
    sandbox.start()
    sandbox.seed(RECORDS + [{"record": "contact", "contact_id": f"x{n}", "email": f"x{n}@example.test"}
                            for n in range(5)])
    yield sandbox
    sandbox.stop()


def search(hub, body: dict) -> object:  # type: ignore[no-untyped-def]
    time.sleep(0.25)  # the sandbox enforces the search rate limit too
    return api(hub, "POST", "/crm/v3/objects/contacts/search", json=body)


def groups(*sizes: int) -> list[dict]:  # type: ignore[type-arg]
    return [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * size} for size in sizes]


def test_after_must_be_a_string_cursor(hub) -> None:  # type: ignore[no-untyped-def]
    first = search(hub, {"limit": 2}).json()
    after = first["paging"]["next"]["after"]
    assert isinstance(after, str)
    assert search(hub, {"limit": 2, "after": after}).status_code == 200
    refused = search(hub, {"limit": 2, "after": int(after)})
    assert refused.status_code == 400 and refused.json()["category"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(("sizes", "status"), [
    ((6, 6, 6), 200),  # 18 filters in total: the maximum
    ((1, 1, 1, 1, 1), 200),  # 5 groups: the maximum
    ((1, 1, 1, 1, 1, 1), 400),  # 6 groups
    ((7,), 400),  # 7 filters in one group
    ((6, 6, 6, 1), 400),  # 19 in total
])
def test_filter_group_limits(hub, sizes: tuple[int, ...], status: int) -> None:  # type: ignore[no-untyped-def]
    response = search(hub, {"filterGroups": groups(*sizes), "limit": 10})
    assert response.status_code == status, response.text


def test_adapter_pages_modified_contacts_with_string_cursors(hub) -> None:  # type: ignore[no-untyped-def]
    settings, credentials = hub.connection_settings()
    adapter = HubSpotAdapter(ConnectionInfo(1, "hubspot", settings, credentials))
    since = datetime(2000, 1, 1, tzinfo=UTC)
    cursor, ids = None, []
    for _ in range(20):
        page = adapter.list_contacts(cursor, modified_since=since, page_size=2)
        ids += page.contact_ids
        cursor = page.next_cursor
        if not cursor:
            break
        time.sleep(0.25)
    assert len(ids) == len(set(ids)) == len(hub.contact_ids())
    # a cursor saved by the previous version ("<since>:<after>") still resumes
    resumed = adapter.list_contacts(f"{int(since.timestamp() * 1000)}:2", modified_since=since, page_size=2)
    assert resumed.contact_ids == ids[2:4]
