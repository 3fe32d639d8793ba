"""The journey map a sales rep sees embedded in the CRM record, behind a short-lived signed URL."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from ..store import ContactAnalysis
from .auth import verify_journey

bp = Blueprint("journey", __name__)


@bp.get("/journey/<int:connection_id>/<contact_id>")
def view(connection_id: int, contact_id: str):  # type: ignore[no-untyped-def]
    problem = verify_journey(request.args.get("token", ""), connection_id, contact_id)
    if problem:
        return render_template("message.html", message=problem), 403
    with current_app.extensions["cem"].store.session() as session:
        state = session.get(ContactAnalysis, (connection_id, contact_id))
    if state is None or not state.profile:
        abort(404)
    profile = state.profile
    explanation = profile.get("explanation") or {}
    return render_template("journey.html", profile=profile, explanation=explanation,
                           stages=explanation.get("stage_history") or [],
                           stage_emotions=explanation.get("stage_emotions") or {})
