"""The aggregate journey map: many contacts at once, for a CX lead's meeting.

Stage x average emotion, contacts per stage, top pain points with example quotes, churn reasons
ranked; filtered by connection, owner and a date range (contacts with an interaction in the range).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select

from ..store import Connection, ContactAnalysis, Store
from . import words as w
from .journey_view import sentiment_class

MAX_CONTACTS = 20000  # bounded: one page never loads an unbounded book into memory
# Two rows in one SVG: the feeling per stage on top (-100..100), contacts per stage as bars below it.
WIDTH, LEFT, RIGHT, TOP = 980, 44, 14, 16
FEELING_HEIGHT, GAP, BARS_HEIGHT, LABELS = 170, 22, 70, 40
HEIGHT = TOP + FEELING_HEIGHT + GAP + BARS_HEIGHT + LABELS
STAGES = (*w.STAGE_PATH, "at_risk", "churned")


def aggregate_model(store: Store, connections: Sequence[Connection], args: Mapping[str, str],
                    reasons: w.ReasonWords | None = None) -> dict[str, Any]:
    connection_id = _int(args.get("connection"))
    owner = (args.get("owner") or "").strip()
    since, until = _date(args.get("from")), _date(args.get("to"), end=True)
    query = select(ContactAnalysis).limit(MAX_CONTACTS)
    if connection_id is not None:
        query = query.where(ContactAnalysis.connection_id == connection_id)
    owners: set[str] = set()
    rows = []
    with store.session() as session:
        for state in session.scalars(query):
            profile = state.profile or {}
            if not profile.get("journey_stage"):
                continue
            display = profile.get("display") or {}
            who = (display.get("contact") or {}).get("owner")
            if who:
                owners.add(str(who))
            if owner and who != owner:
                continue
            if (since or until) and not _active_between(display.get("timeline") or [], since, until):
                continue
            rows.append(profile)
    stages = _stages(rows)
    return {
        "filters": {"connection": connection_id, "owner": owner, "from": args.get("from") or "",
                    "to": args.get("to") or ""},
        "connections": [{"id": c.id, "label": f"{c.name} ({c.platform})"} for c in connections],
        "owners": sorted(owners), "total": len(rows), "stages": stages, "chart": _chart(stages),
        "pains": _pains(rows, reasons), "reasons": _reasons(rows, reasons),
        "capped": len(rows) >= MAX_CONTACTS,
    }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _date(value: Any, *, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(str(value), "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def _active_between(timeline: list[dict[str, Any]], since: datetime | None, until: datetime | None) -> bool:
    for point in timeline:
        at = w.parse_time(point.get("at"))
        if at and (since is None or at >= since) and (until is None or at <= until):
            return True
    return False


def _stages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per stage: contacts in it now, and the average feeling of the customer messages sent while each
    contact was in that stage (from the contact's own stage history, at_risk and advocacy included)."""
    now_in: dict[str, int] = {}
    feeling: dict[str, list[float]] = {}  # stage -> [sum of sentiments, messages]
    for profile in rows:
        now_in[profile["journey_stage"]] = now_in.get(profile["journey_stage"], 0) + 1
        for stage, score in _messages_by_stage(profile):
            acc = feeling.setdefault(stage, [0.0, 0.0])
            acc[0] += score
            acc[1] += 1
    out = []
    for stage in STAGES:
        acc = feeling.get(stage)
        average = round(acc[0] / acc[1]) if acc and acc[1] else None
        if stage in ("at_risk", "churned") and not now_in.get(stage) and average is None:
            continue
        out.append({"code": stage, "label": w.stage_label(stage), "contacts": now_in.get(stage, 0),
                    "emotion": average, "messages": int(acc[1]) if acc else 0, "cls": sentiment_class(average)})
    return out


def _messages_by_stage(profile: dict[str, Any]) -> list[tuple[str, float]]:
    """(stage the contact was in, sentiment) of each customer message on the contact's timeline."""
    explanation = profile.get("explanation") or {}
    history = [(w.parse_time(h.get("since")), h["stage"]) for h in explanation.get("stage_history") or []
               if isinstance(h, dict) and h.get("stage")]
    if not history or history[-1][1] != profile.get("journey_stage"):
        history.append((w.parse_time(profile.get("journey_stage_since")), str(profile.get("journey_stage"))))
    out = []
    for point in (profile.get("display") or {}).get("timeline") or []:
        score, at = w.to_number(point.get("sentiment")), w.parse_time(point.get("at"))
        if point.get("author") != "customer" or score is None or at is None:
            continue
        stage = history[0][1]
        for since, name in history:
            if since is None or since <= at:
                stage = name
        out.append((stage, score))
    return out


def _chart(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """Columns per stage: a bar for contacts in it now, a dot for the average feeling during it."""
    span = WIDTH - LEFT - RIGHT
    step = span / max(1, len(stages))
    feeling_bottom = TOP + FEELING_HEIGHT
    bars_bottom = feeling_bottom + GAP + BARS_HEIGHT
    most = max((s["contacts"] for s in stages), default=0) or 1

    def y(score: float) -> float:
        return round(TOP + (100 - max(-100.0, min(100.0, score))) / 200 * FEELING_HEIGHT, 1)

    columns, line = [], []
    for index, s in enumerate(stages):
        cx = round(LEFT + step * (index + 0.5), 1)
        bar = round(BARS_HEIGHT * s["contacts"] / most, 1)
        column = {"x": cx, "bar_x": round(cx - step * 0.3, 1), "bar_w": round(step * 0.6, 1),
                  "bar_y": round(bars_bottom - bar, 1), "bar_h": bar, "count_y": round(bars_bottom - bar - 4, 1),
                  **s}
        if s["emotion"] is not None:
            column["y"] = y(s["emotion"])
            line.append(f"{cx},{column['y']}")
        columns.append(column)
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "feeling_bottom": feeling_bottom, "bars_top": feeling_bottom + GAP, "bars_bottom": bars_bottom,
            "columns": columns, "line": " ".join(line),
            "grid": [{"y": y(v), "label": f"{v:+d}" if v else "0"} for v in (100, 50, 0, -50, -100)]}


def _pains(rows: list[dict[str, Any]], reasons: w.ReasonWords | None, top: int = 6) -> list[dict[str, Any]]:
    topics: dict[str, dict[str, Any]] = {}
    for profile in rows:
        seen_here: set[str] = set()
        for stage, agg in ((profile.get("explanation") or {}).get("stage_emotions") or {}).items():
            for pain in (agg or {}).get("pain_points") or []:
                topic = str(pain.get("topic") or "")
                if not topic:
                    continue
                entry = topics.setdefault(topic, {"mentions": 0, "contacts": 0, "quotes": [], "stages": {}})
                entry["mentions"] += int(w.to_number(pain.get("mentions")) or 1)
                entry["stages"][stage] = entry["stages"].get(stage, 0) + 1
                if topic not in seen_here:
                    entry["contacts"] += 1
                    seen_here.add(topic)
                quote = pain.get("quote")
                if quote and quote not in entry["quotes"] and len(entry["quotes"]) < 2:
                    entry["quotes"].append(quote)
    ranked = sorted(topics.items(), key=lambda kv: (-kv[1]["contacts"], -kv[1]["mentions"], kv[0]))[:top]
    return [{"label": w.reason_label(topic, reasons), "contacts": e["contacts"], "mentions": e["mentions"],
             "quotes": e["quotes"], "stages": ", ".join(w.stage_label(s) for s in sorted(
                 e["stages"], key=lambda s: STAGES.index(s) if s in STAGES else 99))} for topic, e in ranked]


def _reasons(rows: list[dict[str, Any]], words: w.ReasonWords | None) -> list[dict[str, Any]]:
    reasons: dict[str, list[int]] = {}
    for profile in rows:
        reason = str(profile.get("churn_reason") or "none")
        if reason == "none":
            continue
        reasons.setdefault(reason, []).append(int(w.to_number(profile.get("churn_risk")) or 0))
    total = sum(len(v) for v in reasons.values()) or 1
    ranked = sorted(reasons.items(), key=lambda kv: (-len(kv[1]), -sum(kv[1]), kv[0]))
    return [{"label": w.reason_label(r, words), "meaning": w.reason_meaning(r, words), "contacts": len(risks),
             "share": round(100 * len(risks) / total), "width": round(160 * len(risks) / total, 1),
             "avg_risk": round(sum(risks) / len(risks)), "high": sum(1 for x in risks if x >= 67),
             "band": w.risk_band(sum(risks) / len(risks))[0]} for r, risks in ranked]
