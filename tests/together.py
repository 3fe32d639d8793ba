"""Run the same work on several threads released at one moment: races between workers, made likely."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_together(threads: int, rounds: int, work: Callable[[], object]) -> list[BaseException]:
    """``work`` ``rounds`` times on each of ``threads`` threads started together; returns every failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker() -> None:
        start.wait()
        for _ in range(rounds):
            try:
                work()
            except BaseException as error:  # every failure is what the caller counts
                errors.append(error)

    running = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(timeout=60)
    return errors
