"""API-call counting from several workers at once, on the real PostgreSQL (issue 13.1).

Get-then-insert of the day's ``api_usage`` row made two workers that counted at the same moment both
insert it: one job failed with a primary-key violation and its calls were not counted.
"""

from __future__ import annotations

import threading
from datetime import date

from connector.jobs import add_api_usage
from connector.store import ApiUsage, Connection, Store

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
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def worker() -> None:
        start.wait()
        for _ in range(ROUNDS):
            try:
                add_api_usage(store, connection_id, 3, {"remaining": 100})
            except BaseException as error:  # every failure is what this test counts
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with store.session() as session:
        counted = session.get(ApiUsage, (connection_id, date.today()))
    store.dispose()
    assert not errors, f"{len(errors)} failed: {errors[0]!r}"
    assert counted is not None and counted.calls == WORKERS * ROUNDS * 3
    assert counted.limits == {"remaining": 100}
