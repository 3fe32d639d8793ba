"""Admin pages and JSON API: status, errors, API usage, replay, signed journey links."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from sqlalchemy import select

from ..jobs import replay_dead_letter
from ..runtime import Runtime
from ..status import collect_status
from ..store import DeadLetter
from .auth import require_admin, sign_journey

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _rt() -> Runtime:
    return current_app.extensions["cem"]


@bp.get("/")
@require_admin
def dashboard() -> str:
    return render_template("admin.html", status=collect_status(_rt()))


@bp.get("/api/status")
@require_admin
def status():  # type: ignore[no-untyped-def]
    return jsonify(collect_status(_rt()))


@bp.post("/api/replay")
@require_admin
def replay():  # type: ignore[no-untyped-def]
    rt = _rt()
    replayed = 0
    with rt.store.session() as session:
        for letter in session.scalars(select(DeadLetter).where(DeadLetter.replayed_at.is_(None))):
            replay_dead_letter(rt, letter)
            letter.replayed_at = datetime.now(UTC)
            replayed += 1
    return jsonify({"replayed": replayed})


@bp.post("/api/journey-link")
@require_admin
def journey_link():  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True) or {}
    try:
        connection_id, contact_id = int(body["connection_id"]), str(body["contact_id"])
    except (KeyError, TypeError, ValueError):
        return jsonify({"error": "Send JSON with connection_id and contact_id."}), 400
    token = sign_journey(connection_id, contact_id)
    url = url_for("journey.view", connection_id=connection_id, contact_id=contact_id, token=token)
    return jsonify({"url": _rt().settings.public_url + url, "expires_in": _rt().settings.signed_url_ttl})
