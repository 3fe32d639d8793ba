"""The exchange JSON Lines format (DESIGN.md §4): contact / deal / interaction records, in any order."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .errors import ExchangeError
from .model import DEAL_STAGES, DEAL_TYPES, ContactFacts, ContactInput, Deal, Interaction

KINDS = ("email", "call", "note", "meeting", "ticket", "chat", "survey", "form")
DIRECTIONS = ("inbound", "outbound", "internal")
AUTHORS = ("customer", "rep", "system")
# Bounds that keep one hostile or broken line from costing more than it is worth.
MAX_LINE_CHARS = 5_000_000
MAX_BODY_CHARS = 1_000_000
YEARS = (1900, 2200)  # dates outside these are typos or placeholders ("0001-01-01"), not history


def _text(record: dict[str, Any], key: str, line: int, *, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None or value == "":
        if required:
            raise ExchangeError(f"{record.get('record', 'record')} record needs {key!r}", line)
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ExchangeError(f"{key!r} must be a string, got {type(value).__name__}", line)
    return str(value)


def _datetime(value: Any, key: str, line: int) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ExchangeError(f"{key!r} must be an ISO date or date-time string", line)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value or " " in value.strip() \
            else datetime.combine(date.fromisoformat(value), datetime.min.time())
    except ValueError:
        raise ExchangeError(f"{key!r} is not an ISO date or date-time: {value!r}", line) from None
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise ExchangeError(f"{key!r} year {parsed.year} is outside {YEARS[0]}..{YEARS[1]}: {value!r}", line)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: Any, key: str, line: int) -> date | None:
    parsed = _datetime(value, key, line)
    return parsed.date() if parsed else None


def _choice(record: dict[str, Any], key: str, allowed: tuple[str, ...], line: int, default: str | None) -> str | None:
    value = record.get(key, default)
    if value is None:
        return None
    if value not in allowed:
        raise ExchangeError(f"{key!r} must be one of {', '.join(allowed)}; got {value!r}", line)
    return str(value)


def _contact(record: dict[str, Any], line: int) -> ContactFacts:
    first, last = _text(record, "first_name", line), _text(record, "last_name", line)
    name = _text(record, "name", line) or " ".join(p for p in (first, last) if p) or None
    return ContactFacts(
        contact_id=str(_text(record, "contact_id", line, required=True)),
        lifecycle_stage=_text(record, "lifecycle_stage", line),
        renewal_date=_date(record.get("renewal_date"), "renewal_date", line),
        created_at=_datetime(record.get("created") or record.get("created_at"), "created", line),
        email=_text(record, "email", line),
        name=name,
        company=_text(record, "company", line),
        owner=_text(record, "owner", line),
    )


def _deal(record: dict[str, Any], line: int) -> Deal:
    amount = record.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        raise ExchangeError("'amount' must be a number", line)
    return Deal(
        id=str(_text(record, "id", line, required=True)),
        contact_id=str(_text(record, "contact_id", line, required=True)),
        stage=str(_choice(record, "stage", DEAL_STAGES, line, None) or _missing("stage", line)),
        type=str(_choice(record, "type", DEAL_TYPES, line, "new_business")),
        name=_text(record, "name", line) or "",
        amount=float(amount) if amount is not None else None,
        created=_date(record.get("created"), "created", line),
        close_date=_date(record.get("close_date"), "close_date", line),
        lost_reason=_text(record, "lost_reason", line) or "",
    )


def _missing(key: str, line: int) -> str:
    raise ExchangeError(f"record needs {key!r}", line)


def _interaction(record: dict[str, Any], line: int) -> Interaction:
    occurred = _datetime(record.get("occurred_at"), "occurred_at", line)
    if occurred is None:
        raise ExchangeError("interaction record needs 'occurred_at'", line)
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ExchangeError("'metadata' must be an object", line)
    body = record.get("body") or ""
    subject = record.get("subject") or ""
    if not isinstance(body, str) or not isinstance(subject, str):
        raise ExchangeError("'subject' and 'body' must be strings", line)
    body, subject = body[:MAX_BODY_CHARS], subject[:1000]
    return Interaction(
        id=str(_text(record, "id", line, required=True)),
        contact_id=str(_text(record, "contact_id", line, required=True)),
        kind=_choice(record, "kind", KINDS, line, None) or _missing("kind", line),  # type: ignore[arg-type]
        direction=_choice(record, "direction", DIRECTIONS, line, None) or _missing("direction", line),  # type: ignore[arg-type]
        occurred_at=occurred,
        author=_choice(record, "author", AUTHORS, line, None),  # type: ignore[arg-type]
        subject=subject,
        body=body,
        metadata=dict(metadata),
    )


@dataclass(frozen=True)
class Problem:
    """A line that was skipped (``skipped``) or read with a change (e.g. a body cut to the limit)."""

    line: int
    message: str
    skipped: bool = True

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" + (" (line skipped)" if self.skipped else "")


@dataclass
class ExchangeRead:
    contacts: list[ContactInput]
    problems: list[Problem] = field(default_factory=list)


def _parse_line(raw: str, number: int) -> dict[str, Any]:
    if len(raw) > MAX_LINE_CHARS:
        raise ExchangeError(f"line is {len(raw):,} characters; the limit is {MAX_LINE_CHARS:,}", number)
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ExchangeError(f"invalid JSON: {exc.msg} (column {exc.colno})", number) from None
    except RecursionError:
        raise ExchangeError("JSON nested too deeply", number) from None
    if not isinstance(record, dict):
        raise ExchangeError("each line must be a JSON object", number)
    return record


def read_exchange(lines: Iterable[str]) -> ExchangeRead:
    """Group exchange records by contact, in order of first appearance, keeping every good line.

    A bad line (invalid JSON, missing or wrong fields, impossible dates) is skipped and reported as a
    ``Problem`` with its 1-based line number; blank lines and a UTF-8 byte-order mark are ignored. Deals
    and interactions may come before their contact record; a contact with no contact record gets bare facts.
    """
    contacts: dict[str, ContactFacts | None] = {}
    deals: dict[str, list[Deal]] = {}
    interactions: dict[str, list[Interaction]] = {}
    problems: list[Problem] = []
    for number, raw in enumerate(lines, start=1):
        raw = raw.lstrip("\ufeff")
        if not raw.strip():
            continue
        try:
            record = _parse_line(raw, number)
            kind = record.get("record")
            if kind == "contact":
                facts = _contact(record, number)
                if contacts.get(facts.contact_id) is not None:
                    raise ExchangeError(f"second contact record for {facts.contact_id!r}", number)
                contacts[facts.contact_id] = facts
            elif kind == "deal":
                deal = _deal(record, number)
                contacts.setdefault(deal.contact_id, None)
                deals.setdefault(deal.contact_id, []).append(deal)
            elif kind == "interaction":
                item = _interaction(record, number)
                if len(str(record.get("body") or "")) > MAX_BODY_CHARS:
                    problems.append(Problem(number, f"body cut to {MAX_BODY_CHARS:,} characters", skipped=False))
                contacts.setdefault(item.contact_id, None)
                interactions.setdefault(item.contact_id, []).append(item)
            else:
                raise ExchangeError(f"'record' must be contact, deal or interaction; got {kind!r}", number)
        except ExchangeError as exc:
            problems.append(Problem(number, str(exc).removeprefix(f"line {number}: ")))
        except (RecursionError, ValueError, OverflowError) as exc:  # anything a record can still hide
            problems.append(Problem(number, f"unreadable record ({type(exc).__name__})"))
    result = [
        ContactInput(
            contact=facts or ContactFacts(contact_id=cid),
            deals=tuple(deals.get(cid, ())),
            interactions=tuple(interactions.get(cid, ())),
        )
        for cid, facts in contacts.items()
    ]
    return ExchangeRead(result, problems)


def read_records(lines: Iterable[str]) -> list[ContactInput]:
    """Like ``read_exchange``, but strict: the first skipped line raises ``ExchangeError``."""
    read = read_exchange(lines)
    for problem in read.problems:
        if problem.skipped:
            raise ExchangeError(problem.message, problem.line)
    return read.contacts


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def to_records(data: ContactInput) -> list[dict[str, Any]]:
    """The exchange records of one contact: the contact, then its deals, then its interactions."""
    c = data.contact
    contact: dict[str, Any] = {"record": "contact", "contact_id": c.contact_id}
    for key, value in (("lifecycle_stage", c.lifecycle_stage), ("renewal_date", _iso(c.renewal_date)),
                       ("created", _iso(c.created_at)), ("email", c.email), ("name", c.name),
                       ("company", c.company), ("owner", c.owner)):
        if value is not None:
            contact[key] = value
    records = [contact]
    for d in data.deals:
        records.append({"record": "deal", "contact_id": d.contact_id, "id": d.id, "name": d.name, "stage": d.stage,
                        "type": d.type, "amount": d.amount, "created": _iso(d.created),
                        "close_date": _iso(d.close_date), **({"lost_reason": d.lost_reason} if d.lost_reason else {})})
    for i in data.interactions:
        record: dict[str, Any] = {
            "record": "interaction", "contact_id": i.contact_id, "id": i.id, "kind": i.kind,
            "direction": i.direction, "occurred_at": _iso(i.occurred_at), "subject": i.subject, "body": i.body,
            "metadata": dict(i.metadata),
        }
        if i.author:
            record["author"] = i.author
        records.append(record)
    return records
