"""API-call counting from several workers at once, on the real PostgreSQL (issue 13.1).

Get-then-insert of the day's ``api_usage`` row made two workers that counted at the same moment both
insert it: one job failed with a primary-key violation and its calls were not counted.
"""

from __future__ import annotations

from datetime import date

from connector.jobs import add_api_usage
from connector.store import ApiUsage, Connection, Store
from tests.together import run_together

WORKERS = 8
ROUNDS = 25


def test_concurrent_counting_adds_up(postgres_url: str) -> None:
    store = Store(postgres_url)
    store.upgrade()
    with store.session() as session:
        row = Connection(platform="hubspot", name="usage", settings={}, credentials=b"x", webhook_secrets=b"x")
        session.add(row)
        session.flush()
        connection_id = row.id
    errors = run_together(WORKERS, ROUNDS, lambda: add_api_usage(store, connection_id, 3, {"remaining": 100}))
    with store.session() as session:
        counted = session.get(ApiUsage, (connection_id, date.today()))
    store.dispose()
    assert not errors, f"{len(errors)} failed: {errors[0]!r}"
    assert counted is not None and counted.calls == WORKERS * ROUNDS * 3
    assert counted.limits == {"remaining": 100}
