"""A drained chunk of single-event deliveries costs one suppression-list query, not one per event (issue 14
aim 3: the per-event query was ~85% of a drain's time), and forgotten people still stay forgotten."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.connections import create_connection
from connector.jobs import process_events
from webhooks.events import CONTACT_CHANGED, ChangeEvent


def test_one_suppression_lookup_per_batch_and_the_forgotten_stay_out(runtime_factory, redis_server_url: str,  # type: ignore[no-untyped-def]
                                                                      monkeypatch) -> None:
    rt = runtime_factory(redis_server_url)
    connection_id = create_connection(rt.store, rt.box, platform="hubspot", name="p", settings={},
                                      credentials={"access_token": "pat-1"})
    rt.suppressed.add(connection_id, "7")  # `forget 7` earlier
    lookups: list[int] = []
    real = rt.suppressed.allowed
    monkeypatch.setattr(rt.suppressed, "allowed", lambda cid, ids: lookups.append(len(ids)) or real(cid, ids))
    events = [ChangeEvent(platform="hubspot", event_id=f"e{n}", kind=CONTACT_CHANGED, object_type="contact",
                          object_id=str(n % 10), occurred_at=datetime(2026, 11, 1, tzinfo=UTC)).to_dict()
              for n in range(200)]
    counts = process_events(connection_id, events)
    assert lookups == [10], "one lookup for the ten contacts the 200 events name"
    assert counts["refreshes"] == 9
    waiting = {m.decode() for m in rt.redis.smembers(rt.queue.keys.waiting(connection_id))}
    assert waiting == {str(n) for n in range(10)} - {"7"}
    rt.queue.rq.empty()
