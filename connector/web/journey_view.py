"""The journey map's view-model: a stored profile (engine output + display record) -> what the page draws.

The only place that knows the shape of the engine's explanation; every key is optional, so an engine
that adds, renames or drops an explanation key degrades a section instead of breaking the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from . import words as w

LinkFor = Callable[[str, str], str | None]  # (interaction id, kind) -> URL of that record in the CRM

# Chart geometry in SVG user units; each SVG scales to the page width. The narrow one is drawn for a
# 400 px CRM side panel, where the wide one's text would shrink below reading size.
WIDE = {"width": 980, "height": 320, "months": 8}
NARROW = {"width": 380, "height": 260, "months": 3}
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 30, 28
LANE = 26  # the bottom lane holds what the team and systems did (no feeling of the customer's own)
POSITIVE_AT, NEGATIVE_AT = 15.0, -15.0


def sentiment_class(score: float | None) -> str:
    if score is None:
        return "team"
    return "pos" if score >= POSITIVE_AT else "neg" if score <= NEGATIVE_AT else "neu"


def journey_model(profile: dict[str, Any], contact_id: str, link_for: LinkFor | None = None,
                  now: datetime | None = None, reasons: w.ReasonWords | None = None) -> dict[str, Any]:
    """``reasons``: the engine taxonomy's labels (``words.reason_words``), so admin-defined reasons read right."""
    now = now or datetime.now(UTC)
    link_for = link_for or (lambda _iid, _kind: None)
    explanation = _dict(profile.get("explanation"))
    display = _dict(profile.get("display"))
    points = [p for p in display.get("timeline") or [] if isinstance(p, dict) and w.parse_time(p.get("at"))]
    history = _stage_history(explanation, profile)
    interactions = [_interaction(p, link_for) for p in points]
    return {
        "header": _header(profile, _dict(display.get("contact")), contact_id, now, reasons),
        "chart": _chart(points, history, explanation, now, **WIDE),
        "chart_narrow": _chart(points, history, explanation, now, **NARROW),
        "stages": _stage_path(history, str(profile.get("journey_stage") or "")),
        "why": _why(profile, explanation, {p["id"]: p for p in points if "id" in p}, link_for, reasons),
        "signals": _signals(explanation),
        "pains": _pains(explanation, reasons),
        "interactions": list(reversed(interactions)),
        "as_of": w.stamp(explanation.get("as_of")),
        # analysed before the connector kept a display record: the curve comes with the next analysis
        "awaiting_display": not display,
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- header ----------------------------------------------------------------------------------------
def _header(profile: dict[str, Any], contact: dict[str, Any], contact_id: str, now: datetime,
            reasons: w.ReasonWords | None) -> dict[str, Any]:
    stage = str(profile.get("journey_stage") or "")
    since = w.parse_time(profile.get("journey_stage_since"))
    score = w.to_number(profile.get("emotion_score"))
    trend = w.to_number(profile.get("emotion_trend")) or 0.0
    risk = int(w.to_number(profile.get("churn_risk")) or 0)
    band, band_word = w.risk_band(risk)
    reason = str(profile.get("churn_reason") or "none")
    arrow, trend_word = ("↑", "improving") if trend >= 5 else ("↓", "worsening") if trend <= -5 else ("→", "steady")
    return {
        "name": contact.get("name") or contact.get("email") or f"Contact {contact_id}",
        "email": contact.get("email") if contact.get("name") else None,
        "company": contact.get("company"), "owner": contact.get("owner"),
        "stage": stage, "stage_label": w.stage_label(stage), "stage_meaning": w.stage_meaning(stage),
        "since": w.day(since), "since_days": (now - since).days if since else None,
        "emotion_label": w.emotion_label(profile.get("emotion")), "score": round(score) if score is not None else None,
        "emotion_class": sentiment_class(score), "trend": round(trend), "arrow": arrow, "trend_word": trend_word,
        "risk": risk, "band": band, "band_word": band_word,
        "reason": reason, "reason_label": w.reason_label(reason, reasons),
    }


# -- stages ----------------------------------------------------------------------------------------
def _stage_history(explanation: dict[str, Any], profile: dict[str, Any]) -> list[dict[str, Any]]:
    history = [h for h in explanation.get("stage_history") or [] if isinstance(h, dict) and h.get("stage")]
    current = profile.get("journey_stage")
    if current and (not history or history[-1]["stage"] != current):
        history.append({"stage": current, "since": profile.get("journey_stage_since")})
    return history


def _stage_path(history: list[dict[str, Any]], current: str) -> list[dict[str, Any]]:
    """Every stage on the path, reached ones with their date, later ones greyed; at_risk/churned when reached."""
    entered: dict[str, str] = {}
    for h in history:
        entered.setdefault(h["stage"], w.day(h.get("since")))
    on_path = [s for s in w.STAGE_PATH if s in entered]
    furthest = max((w.STAGE_PATH.index(s) for s in on_path), default=-1)
    out = []
    for index, stage in enumerate(w.STAGE_PATH):
        if stage == current:
            state = "current"
        elif stage in entered:
            state = "reached"
        elif index < furthest:
            state = "skipped"
        else:
            state = "future"
        out.append({"code": stage, "label": w.stage_label(stage), "state": state, "date": entered.get(stage, ""),
                    "meaning": w.stage_meaning(stage)})
    for stage in ("at_risk", "churned"):
        if stage in entered or stage == current:
            out.append({"code": stage, "label": w.stage_label(stage), "state": "current" if stage == current
                        else "reached", "date": entered.get(stage, ""), "meaning": w.stage_meaning(stage),
                        "off_path": True})
    return out


# -- the emotion curve -------------------------------------------------------------------------------
def _chart(points: list[dict[str, Any]], history: list[dict[str, Any]], explanation: dict[str, Any],
           now: datetime, *, width: int, height: int, months: int) -> dict[str, Any]:
    times = [w.parse_time(p["at"]) for p in points]
    stage_times = [w.parse_time(h.get("since")) for h in history]
    known = [t for t in times + stage_times if t is not None]
    end = max([*known, w.parse_time(explanation.get("as_of")) or now]) if known else now
    start = min(known) if known else end - timedelta(days=30)
    if (end - start) < timedelta(days=14):
        start, end = start - timedelta(days=7), end + timedelta(days=7)
    span = (end - start).total_seconds()
    plot_bottom = height - BOTTOM - LANE

    def x(t: datetime) -> float:
        return round(LEFT + (t - start).total_seconds() / span * (width - LEFT - RIGHT), 1)

    def y(score: float) -> float:
        score = max(-100.0, min(100.0, score))
        return round(TOP + (100.0 - score) / 200.0 * (plot_bottom - TOP), 1)

    dots, line = [], []
    for p, t in zip(points, times, strict=True):
        assert t is not None
        score = w.to_number(p.get("sentiment")) if p.get("author") == "customer" else None
        cx = x(t)
        cy = y(score) if score is not None else height - BOTTOM - LANE / 2
        if score is not None:
            line.append(f"{cx},{cy}")
        dots.append({"x": cx, "y": cy, "cls": sentiment_class(score), "anchor": _anchor(p),
                     "title": _point_title(p, t, score)})
    bands = []
    for index, h in enumerate(history):
        begin = max(w.parse_time(h.get("since")) or start, start)
        finish = w.parse_time(history[index + 1].get("since")) if index + 1 < len(history) else end
        finish = min(finish or end, end)
        if finish <= begin:
            continue
        label = w.stage_label(h["stage"])
        band_width = round(x(finish) - x(begin), 1)
        bands.append({"x": x(begin), "w": band_width, "stage": h["stage"], "label": label,
                      "label_x": round(x(begin) + 4, 1),
                      "show_label": len(label) * 7.5 + 8 <= band_width})  # 12px bold text: ~7.5 units a letter
    return {
        "width": width, "height": height, "left": LEFT, "right": width - RIGHT, "top": TOP,
        "plot_bottom": plot_bottom, "lane_y": height - BOTTOM - LANE / 2, "axis_y": height - BOTTOM,
        "zero_y": y(0), "grid": [{"y": y(v), "label": f"{v:+d}" if v else "0"} for v in (100, 50, 0, -50, -100)],
        "ticks": _month_ticks(start, end, x, months), "bands": bands, "dots": dots, "line": " ".join(line),
        "customer_points": len(line), "team_points": len(dots) - len(line),
    }


def _month_ticks(start: datetime, end: datetime, x: Callable[[datetime], float], most: int) -> list[dict[str, Any]]:
    months = []
    cursor = datetime(start.year, start.month, 1, tzinfo=UTC)
    while cursor <= end:
        if cursor >= start:
            months.append(cursor)
        cursor = datetime(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1, tzinfo=UTC)
    step = max(1, -(-len(months) // most))  # few enough labels that they never overlap
    return [{"x": x(m), "label": f"{m:%b}" + (f" {m:%Y}" if m.month == 1 or i == 0 else "")}
            for i, m in enumerate(months) if i % step == 0]


def _anchor(point: dict[str, Any]) -> str:
    return "i-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in str(point.get("id", "")))


def _point_title(point: dict[str, Any], when: datetime, score: float | None) -> str:
    who = w.author_label(point.get("author"))
    head = f"{w.day(when)} · {w.channel_label(point.get('kind'))} · {who}"
    if score is not None:
        head += f" · feeling {score:+.0f}"
    quote = point.get("quote") or point.get("subject") or ""
    return f"{head}\n“{quote}”" if quote else head


def _interaction(point: dict[str, Any], link_for: LinkFor) -> dict[str, Any]:
    score = w.to_number(point.get("sentiment")) if point.get("author") == "customer" else None
    extra = []
    for key, label in (("nps", "NPS"), ("csat", "CSAT")):
        value = w.to_number(point.get(key))
        if value is not None:
            extra.append(f"{label} {value:g}")
    if point.get("status"):
        extra.append(f"status {point['status']}")
    return {
        "anchor": _anchor(point), "date": w.day(point.get("at")), "channel": w.channel_label(point.get("kind")),
        "author": w.author_label(point.get("author")), "subject": point.get("subject") or "",
        "quote": point.get("quote") or "", "score": round(score) if score is not None else None,
        "cls": sentiment_class(score), "extra": ", ".join(extra),
        "url": link_for(str(point.get("id", "")), str(point.get("kind", ""))),
    }


# -- why ---------------------------------------------------------------------------------------------
def _why(profile: dict[str, Any], explanation: dict[str, Any], points: dict[str, dict[str, Any]],
         link_for: LinkFor, reasons: w.ReasonWords | None) -> dict[str, Any]:
    reason = str(profile.get("churn_reason") or "none")
    evidence = []
    seen: set[str] = set()
    for item in explanation.get("reason_evidence") or []:
        if not isinstance(item, dict) or not item.get("quote") or item["quote"] in seen:
            continue
        seen.add(item["quote"])
        iid, kind = str(item.get("interaction_id") or ""), str(item.get("kind") or "")
        source = points.get(iid, {})
        evidence.append({
            "quote": item["quote"], "date": w.day(item.get("date") or source.get("at")),
            "channel": w.channel_label(kind or source.get("kind")), "why": _sentence(item.get("why")),
            "source": _source_word(item.get("source") or source.get("author")),
            "url": link_for(iid, kind or str(source.get("kind", ""))) if iid else None,
        })
    return {"reason": reason, "label": w.reason_label(reason, reasons), "meaning": w.reason_meaning(reason, reasons),
            "evidence": evidence,
            # the field text the CRM shows, for engines that give no structured evidence
            "detail": "" if evidence else str(profile.get("churn_reason_detail") or "")}


def _source_word(source: Any) -> str:
    """Whose words the evidence is (engine sources; a timeline point's author when the engine gives none)."""
    return {"customer": "the customer's words", "rep note": "rep note", "rep": "rep note", "system": "system record",
            "absence": "what did not happen"}.get(str(source or ""), "")


def _sentence(text: Any) -> str:
    text = str(text or "").strip()
    return text[:1].upper() + text[1:] if text else ""


def _signals(explanation: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for s in explanation.get("risk_signals") or []:
        if not isinstance(s, dict):
            continue
        points = int(w.to_number(s.get("points")) or 0)
        if points == 0:
            continue
        out.append({"label": w.signal_label(s.get("signal")), "points": points, "detail": _sentence(s.get("detail")),
                    "text": f"{points:+d}"})
    return sorted(out, key=lambda s: -s["points"])  # a cap (negative points) comes last


def _pains(explanation: dict[str, Any], reasons: w.ReasonWords | None = None) -> list[dict[str, Any]]:
    """Pain points per stage in path order, each quote once (the same sentence can carry two topics)."""
    stage_emotions = _dict(explanation.get("stage_emotions"))
    order = {s: i for i, s in enumerate((*w.STAGE_PATH, "at_risk", "churned"))}
    out, seen = [], set()
    for stage in sorted(stage_emotions, key=lambda s: order.get(s, 99)):
        for pain in _dict(stage_emotions[stage]).get("pain_points") or []:
            if not isinstance(pain, dict):
                continue
            quote = str(pain.get("quote") or "")
            if quote in seen:
                continue
            seen.add(quote)
            out.append({"stage": w.stage_label(stage), "topic": w.reason_label(pain.get("topic"), reasons),
                        "mentions": int(w.to_number(pain.get("mentions")) or 1), "quote": quote})
    return out
