"""Every sentence of the golden journeys and a few public messages: a corpus for equivalence tests."""

from __future__ import annotations

import json
from pathlib import Path

_ROOT = Path(__file__).parent.parent


def texts() -> list[str]:
    out: list[str] = []
    for path in sorted((_ROOT / "tests" / "golden").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line) if line.strip() else {}
            for key in ("subject", "body"):
                if record.get(key):
                    out.extend(record[key].split("\n"))
    for name in ("hint3", "goemotions", "banking77"):
        path = _ROOT / "eval" / "data" / "public" / name / "test.jsonl"
        if path.exists():
            out.extend(json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()[:300])
    return out
