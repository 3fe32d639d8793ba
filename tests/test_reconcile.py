"""Reconcile heals missed webhooks: contacts changed since the cursor are refreshed without any push."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.jobs import reconcile_connection
from connector.store import SyncCursor
from sandbox.dataset import demo_records
from tests.pipeline_harness import Pipeline, start_pipeline


@pytest.fixture(params=["hubspot", "salesforce", "dynamics"])
def pipeline(request: pytest.FixtureRequest, runtime_factory, redis_server_url: str) -> Pipeline:  # type: ignore[no-untyped-def]
    p = start_pipeline(runtime_factory(redis_server_url), request.param, demo_records(6))
    yield p
    p.stop()


def test_reconcile_refreshes_contacts_no_webhook_announced(pipeline: Pipeline) -> None:
    ids = pipeline.sandbox.contact_ids()
    assert pipeline.written_contacts() == 0  # nothing was pushed
    # the demo contacts were last modified months ago: start the cursor before that
    with pipeline.runtime.store.session() as session:
        session.add(SyncCursor(connection_id=pipeline.connection_id, kind="reconcile", processed=0,
                               since=datetime.now(UTC) - timedelta(days=3 * 365)))
    pipeline.runtime.queue.enqueue(reconcile_connection, 0, pipeline.connection_id)
    pipeline.drain(until=lambda: pipeline.written_contacts() == len(ids))
    with pipeline.runtime.store.session() as session:
        cursor = session.get(SyncCursor, (pipeline.connection_id, "reconcile"))
        assert cursor is not None and cursor.status == "done"
        assert datetime.now(UTC) - cursor.since.replace(tzinfo=UTC) < timedelta(minutes=5)  # moved forward
    values = pipeline.adapter.read_fields(ids)
    assert all(values[c]["journey_stage"] for c in ids)
