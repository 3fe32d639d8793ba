"""The journey map a sales rep sees embedded in the CRM record, behind a short-lived signed URL."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from ..store import Connection, ContactAnalysis
from .auth import verify_journey
from .journey_view import journey_model
from .links import record_links
from .words import reason_words

bp = Blueprint("journey", __name__)


@bp.get("/journey/<int:connection_id>/<contact_id>")
def view(connection_id: int, contact_id: str):  # type: ignore[no-untyped-def]
    problem = verify_journey(request.args.get("token", ""), connection_id, contact_id)
    if problem:
        return render_template("message.html", title=problem.title, message=problem.message, hint=problem.hint,
                               icon="⏱️" if problem.expired else "🔒"), 403
    with current_app.extensions["cem"].store.session() as session:
        state = session.get(ContactAnalysis, (connection_id, contact_id))
        connection = session.get(Connection, connection_id)
    if state is None or not state.profile or connection is None:
        return render_template(
            "message.html", icon="🔎", title="No journey for this contact yet",
            message="The connector has not analysed this record yet.",
            hint="New and recently imported contacts appear within a few minutes of their next change, or after "
                 "the admin runs a backfill. Reopen the record later."), 404
    rt = current_app.extensions["cem"]
    model = journey_model(state.profile, contact_id,
                          record_links(connection.platform, connection.settings, connection.account_id,
                                       contact_id), reasons=reason_words(rt.engine_config))
    return render_template("journey.html", m=model)
