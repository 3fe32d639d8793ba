"""Load generator for bench.intake, run as its own process so it does not share the server's GIL.

    python -m bench._load HOST PORT REQUESTS_FILE CONCURRENCY

REQUESTS_FILE is JSON: a list of [path, headers, body]. Every request is sent once over persistent
HTTP/1.1 connections (one per thread, requests split evenly); prints one JSON line:
{"seconds": wall, "cpu": CPU seconds used, "statuses": {status: count}}.
Bounded: one pass over the list, 10 s timeout each.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections import Counter


def _worker(host: str, port: int, requests: list[list], statuses: Counter, lock: threading.Lock) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    local: Counter = Counter()
    for path, headers, body in requests:
        try:
            connection.request("POST", path, body=body.encode(), headers=headers)
            response = connection.getresponse()
            response.read()
            local[response.status] += 1
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=10)
        except (OSError, http.client.HTTPException):
            local["error"] += 1
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.close()
    with lock:
        statuses.update(local)


def main() -> None:
    host, port, path, concurrency = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    with open(path) as handle:
        requests = json.load(handle)
    statuses: Counter = Counter()
    lock = threading.Lock()
    threads = [threading.Thread(target=_worker, args=(host, port, requests[i::concurrency], statuses, lock))
               for i in range(concurrency)]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # cpu: this process's CPU seconds while sending; near `seconds` means the generator, not the server, was the limit
    print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                      "statuses": {str(k): v for k, v in statuses.items()}}))


if __name__ == "__main__":
    main()
