"""The data behind the CEM panel on a CRM contact record (HubSpot app card, Salesforce LWC, Dynamics web resource).

``POST /cards/<platform>/<connection id>/summary`` with ``{"contactId": "..."}`` answers the contact's stage,
emotion and trend, churn risk, reason with its top quote, and a fresh signed link to the full journey map.

Each CRM proves who is asking in its own way, checked by its receiver (``verify_card``): HubSpot signs
``hubspot.fetch`` requests with v3, the Salesforce Apex controller signs the body like its webhooks
(``X-CEM-Signature``), the Dynamics web resource presents a token derived from the webhook secret.
Browsers calling directly (Dynamics) get CORS headers for the CRM's own origin only.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request

from adapters.fields import FIELDS_BY_KEY
from webhooks.base import CaseInsensitiveDict, InboundRequest, WebhookReceiver, WebhookTarget, load_json
from webhooks.errors import MalformedPayload, WebhookError

from ..connections import ConnectionNotFound
from ..runtime import Runtime
from ..store import ContactAnalysis
from .auth import sign_journey
from .webhooks import public_url, receiver_for
from .words import risk_band

bp = Blueprint("cards", __name__)

MAX_BODY_BYTES = 4096
MAX_CONTACT_ID = 100


@bp.route("/cards/<platform>/<int:connection_id>/summary", methods=["POST", "OPTIONS"])
def summary(platform: str, connection_id: int) -> Response:
    rt: Runtime = current_app.extensions["cem"]
    try:
        receiver = receiver_for(platform)
        targets = [t for t in current_app.extensions["cem_targets"].get(rt, platform, connection_id)
                   if t.connection_id == connection_id]
    except (KeyError, ConnectionNotFound):
        return _json(404, {"error": f"No {platform} connection {connection_id}; regenerate the CRM package with "
                                    "'cem-connector package'."})
    if not targets:
        return _json(404, {"error": f"No active {platform} connection {connection_id}."})
    target = targets[0]
    cors = _cors_headers(receiver, target)
    if request.method == "OPTIONS":  # CORS preflight from the CRM page (Dynamics web resource)
        return Response(status=204 if cors else 403, headers=cors)
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        return _json(413, {"error": f"Body exceeds {MAX_BODY_BYTES} bytes."}, cors)
    inbound = InboundRequest(method=request.method, url=public_url(rt), body=body, query=request.args.to_dict(),
                             headers=CaseInsensitiveDict(dict(request.headers)))
    try:
        receiver.verify_card(inbound, target)
        contact_id = _contact_id(inbound)
    except WebhookError as error:
        return _json(error.status, {"error": error.message}, cors)
    with rt.store.session() as session:
        state = session.get(ContactAnalysis, (connection_id, contact_id))
        profile = dict(state.profile) if state is not None and state.profile else None
        analyzed_at = state.analyzed_at.isoformat() if state is not None and state.analyzed_at else None
    if profile is None:
        return _json(200, {"status": "pending", "contactId": contact_id,
                           "message": "No CEM analysis for this contact yet; it appears after the next sync."}, cors)
    journey = f"{rt.settings.public_url}/journey/{connection_id}/{contact_id}?token=" \
              f"{sign_journey(connection_id, contact_id)}"
    return _json(200, card_summary(contact_id, profile, analyzed_at, journey), cors)


def card_summary(contact_id: str, profile: dict[str, Any], analyzed_at: str | None, journey_url: str) -> dict[str, Any]:
    """The stored engine profile as the record views show it: labels from the CEM field specs, a risk band,
    the reason's strongest quote."""
    explanation = profile.get("explanation") or {}
    risk = int(profile.get("churn_risk") or 0)
    trend = float(profile.get("emotion_trend") or 0.0)
    quote = _top_quote(explanation)
    return {
        "status": "ready",
        "contactId": contact_id,
        "stage": {"key": profile.get("journey_stage"), "label": _label("journey_stage", profile.get("journey_stage")),
                  "since": profile.get("journey_stage_since")},
        "emotion": {"key": profile.get("emotion"), "label": _label("emotion", profile.get("emotion")),
                    "score": float(profile.get("emotion_score") or 0.0), "trend": trend,
                    "trendDirection": "up" if trend > 0 else "down" if trend < 0 else "flat"},
        "risk": {"score": risk, "band": risk_band(risk)[0]},
        "reason": {"key": profile.get("churn_reason"), "label": _label("churn_reason", profile.get("churn_reason")),
                   "detail": profile.get("churn_reason_detail") or "", **quote},
        "analyzedAt": analyzed_at,
        "journeyUrl": journey_url,
    }


def _label(key: str, value: Any) -> str:
    return FIELDS_BY_KEY[key].option_label(str(value)) if value else ""


def _top_quote(explanation: dict[str, Any]) -> dict[str, str]:
    """The first piece of evidence for the chosen reason (the engine orders it strongest first), else the most
    recent emotion cue: what the customer actually said."""
    candidates = list(explanation.get("reason_evidence") or [])
    candidates += list(reversed((explanation.get("emotion") or {}).get("cues") or []))
    for item in candidates:
        if isinstance(item, dict) and item.get("quote"):
            return {"quote": str(item["quote"]), "quoteDate": str(item.get("date") or ""),
                    "quoteKind": str(item.get("kind") or "")}
    return {"quote": "", "quoteDate": "", "quoteKind": ""}


def _contact_id(inbound: InboundRequest) -> str:
    data = load_json(inbound)
    contact = data.get("contactId") if isinstance(data, dict) else None
    if isinstance(contact, int) and not isinstance(contact, bool):
        contact = str(contact)
    if not isinstance(contact, str) or not contact.strip() or len(contact) > MAX_CONTACT_ID:
        raise MalformedPayload('Body must be {"contactId": "<the record id>"}.')
    return contact.strip().strip("{}").lower() if _is_guid(contact) else contact.strip()


def _is_guid(value: str) -> bool:
    text = value.strip().strip("{}")
    return len(text) == 36 and text.count("-") == 4


def _cors_headers(receiver: WebhookReceiver, target: WebhookTarget) -> dict[str, str]:
    origin = (request.headers.get("Origin") or "").lower()
    if not origin or origin not in receiver.card_origins(target):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type, X-CEM-Card-Token", "Access-Control-Max-Age": "600"}


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json", headers=headers or {})

