"""The labelled sets `make eval` scores, read from eval/data/sets.toml.

Two shapes:
- ``journeys``: exchange JSONL (DESIGN.md §4) whose contact records carry
  ``"expected": {"journey_stage", "churn_reason", optional "emotion", "polarity", "risk_band"}``;
- ``messages``: JSONL of single customer messages, ``{"id", "text", optional "reason", "polarity"
  (negative / neutral / positive), "valence" (a human rating, any scale), "complaint" (bool)}``.
  Each message is analysed as one inbound email from an established customer, the way a CRM would
  show it to the engine.
Sets whose split is ``train`` were used to tune the engine and are never scored as results.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent.parent / "tests" / "golden"


@dataclass(frozen=True)
class LabelledSet:
    name: str
    group: str        # golden / public / holdout
    shape: str        # journeys / messages
    taxonomy: str     # b2b_software / services_commerce
    split: str        # test / train
    files: tuple[Path, ...]
    now: str          # analysis time of journeys (ISO)
    source: str
    licence: str
    limit: int        # 0 = all lines
    labels: Path | None = None  # answers kept beside the data (one JSON line per contact, may carry "now")
    only_taxonomy: bool = False  # messages: keep the items whose "taxonomy" is this set's taxonomy


def load_sets(path: Path = DATA / "sets.toml") -> list[LabelledSet]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for name, spec in raw.get("sets", {}).items():
        base = GOLDEN if spec.get("base") == "golden" else DATA
        files = tuple(sorted(f for pattern in spec["files"] for f in base.glob(pattern)))
        out.append(LabelledSet(
            name=name, group=spec["group"], shape=spec["shape"], taxonomy=spec.get("taxonomy", "b2b_software"),
            split=spec.get("split", "test"), files=files, now=spec.get("now", "2026-06-01T12:00:00Z"),
            source=spec.get("source", ""), licence=spec.get("licence", ""), limit=int(spec.get("limit", 0)),
            labels=base / spec["labels"] if spec.get("labels") else None,
            only_taxonomy=bool(spec.get("only_taxonomy", False)),
        ))
    return out


def read_messages(labelled: LabelledSet) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for path in labelled.files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                items.append(json.loads(line))
    if labelled.only_taxonomy:
        items = [i for i in items if i.get("taxonomy", labelled.taxonomy) == labelled.taxonomy]
    return items[: labelled.limit] if labelled.limit else items


def read_journeys(labelled: LabelledSet) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """(all exchange lines, expected answers by contact id)."""
    lines: list[str] = []
    expected: dict[str, dict[str, Any]] = {}
    for path in labelled.files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            lines.append(line)
            record = json.loads(line)
            if record.get("record") == "contact" and "expected" in record:
                expected[str(record["contact_id"])] = record["expected"]
    if labelled.labels is not None:
        contacts = {str(json.loads(line)["contact_id"]) for line in lines if '"contact"' in line
                    and json.loads(line).get("record") == "contact"}
        for line in labelled.labels.read_text(encoding="utf-8").splitlines():
            if line.strip():
                label = json.loads(line)
                if str(label["contact_id"]) in contacts:
                    expected[str(label["contact_id"])] = label
    return lines, expected
