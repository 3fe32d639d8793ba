"""The admin console (sign-in, status, contacts, aggregate map, replay, field install) and its JSON API."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import String, cast, or_, select
from werkzeug.wrappers import Response

from adapters.errors import AdapterError

from ..connections import list_connections, webhook_secrets
from ..jobs import replay_dead_letters
from ..runtime import Runtime
from ..status import INSTALL_ACTION, collect_status
from ..store import Activity, ContactAnalysis
from . import words
from .aggregate_view import aggregate_model
from .auth import (
    clear_failures,
    csrf,
    locked_for,
    log_in,
    note_failure,
    require_admin,
    sign_journey,
    token_matches,
)
from .console_view import console_model

bp = Blueprint("admin", __name__, url_prefix="/admin")
SEARCH_LIMIT = 50


def _rt() -> Runtime:
    return current_app.extensions["cem"]


# -- sign-in ---------------------------------------------------------------------------------------
@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None, locked=False)
    csrf.protect()
    wait = locked_for()
    if wait:
        return render_template("login.html", next=target, locked=True,
                               error=f"Too many wrong tokens from your address; try again in {wait // 60 + 1} "
                                     "minutes."), 429, {"Retry-After": str(wait)}
    if not token_matches(request.form.get("token", "")):
        note_failure()
        return render_template("login.html", next=target, locked=False,
                               error="That admin token is not right. It is CEM_ADMIN_TOKEN from the server's "
                                     "environment."), 401
    clear_failures()
    log_in()
    return redirect(target)


@bp.post("/logout")
@require_admin
def logout() -> Response:
    session.clear()
    return redirect(url_for("admin.login"))


def _safe_next(target: str | None) -> str:
    """Only paths inside the console: never an absolute or protocol-relative URL."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.dashboard")


# -- pages -----------------------------------------------------------------------------------------
@bp.get("/")
@require_admin
def dashboard() -> str:
    rt = _rt()
    status = collect_status(rt)
    model = console_model(status, _names(rt, status))
    secrets = {}
    for row in list_connections(rt.store):
        stored = webhook_secrets(rt.box, row)
        secrets[row.id] = stored[0] if stored else ""
    return render_template("console.html", m=model, secrets=secrets, page="status")


def _names(rt: Runtime, status: dict) -> dict[tuple[int, str], str]:  # type: ignore[type-arg]
    """Names of the people the error and activity lists mention (ids only are stored there)."""
    wanted = {(row["connection_id"], row["contact_id"]) for row in status["errors"] + status["recent"]
              if row.get("contact_id")}
    names: dict[tuple[int, str], str] = {}
    with rt.store.session() as db:
        for key in wanted:
            state = db.get(ContactAnalysis, key)
            person = (((state.profile if state else None) or {}).get("display") or {}).get("contact") or {}
            if person.get("name") or person.get("email"):
                names[key] = person.get("name") or person.get("email")
    return names


@bp.get("/contacts")
@require_admin
def contacts() -> str:
    rt = _rt()
    query = (request.args.get("q") or "").strip()
    connections = {c.id: c for c in list_connections(rt.store)}
    found = []
    if query:
        pattern = f"%{query.lower()}%"
        with rt.store.session() as db:
            # the profile column is a prefilter (it also holds quotes); matches are kept on id, name or email
            rows = db.scalars(select(ContactAnalysis).where(or_(
                ContactAnalysis.contact_id.ilike(pattern), cast(ContactAnalysis.profile, String).ilike(pattern)))
                .order_by(ContactAnalysis.analyzed_at.desc()).limit(SEARCH_LIMIT * 10))
            for state in rows:
                person = ((state.profile or {}).get("display") or {}).get("contact") or {}
                haystack = " ".join(str(v) for v in (state.contact_id, person.get("name"), person.get("email"),
                                                     person.get("company")) if v).lower()
                if query.lower() in haystack:
                    found.append(_contact_row(state, person, connections))
                if len(found) >= SEARCH_LIMIT:
                    break
    return render_template("contacts.html", q=query, found=found, limit=SEARCH_LIMIT, page="contacts")


def _contact_row(state: ContactAnalysis, person: dict, connections: dict) -> dict:  # type: ignore[type-arg]
    profile = state.profile or {}
    band, band_word = words.risk_band(profile.get("churn_risk"))
    connection = connections.get(state.connection_id)
    return {
        "name": person.get("name") or person.get("email") or f"Contact {state.contact_id}",
        "email": person.get("email") if person.get("name") else None, "company": person.get("company"),
        "contact_id": state.contact_id, "connection": connection.name if connection else state.connection_id,
        "stage": words.stage_label(profile.get("journey_stage")) if profile else "Not analysed yet",
        "emotion": words.emotion_label(profile.get("emotion")) if profile else "",
        "risk": profile.get("churn_risk"), "band": band, "band_word": band_word,
        "analysed": words.ago(state.analyzed_at),
        "url": url_for("journey.view", connection_id=state.connection_id, contact_id=state.contact_id,
                       token=sign_journey(state.connection_id, state.contact_id)),
    }


@bp.get("/map")
@require_admin
def aggregate() -> str:
    rt = _rt()
    connections = list_connections(rt.store)
    model = aggregate_model(rt.store, connections, request.args, words.reason_words(rt.engine_config))
    return render_template("aggregate.html", m=model, page="map")


# -- actions (POST: CSRF-checked by require_admin) ---------------------------------------------------
@bp.post("/replay")
@require_admin
def replay_form() -> Response:
    letter = request.form.get("letter_id", type=int)
    connection = request.form.get("connection_id", type=int)
    replayed = replay_dead_letters(_rt(), connection_id=connection, letter_id=letter)
    flash(f"Replayed {replayed} job(s): they are back on the queue." if replayed else "Nothing left to replay.")
    return redirect(url_for("admin.dashboard") + "#dead-letters")


@bp.post("/install/<int:connection_id>")
@require_admin
def install(connection_id: int) -> Response:
    rt = _rt()
    try:
        report = rt.adapter(connection_id).provision()
    except (AdapterError, LookupError) as error:
        detail = f"failed: {error}"
        flash(f"Field install failed: {error}", "bad")
    else:
        counts: dict[str, int] = {}
        for step in report.steps:
            counts[step.action] = counts.get(step.action, 0) + 1
        detail = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing to do"
        flash(f"Field install finished: {detail}.")
    with rt.store.session() as db:
        db.add(Activity(connection_id=connection_id, contact_id=None, action=INSTALL_ACTION, detail=detail[:500]))
    return redirect(url_for("admin.dashboard") + f"#connection-{connection_id}")


# -- JSON API --------------------------------------------------------------------------------------
@bp.get("/api/status")
@require_admin
def status():  # type: ignore[no-untyped-def]
    return jsonify(collect_status(_rt()))


@bp.post("/api/replay")
@require_admin
def replay():  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True) or {}
    return jsonify({"replayed": replay_dead_letters(_rt(), connection_id=body.get("connection_id"),
                                                     letter_id=body.get("letter_id"))})


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
    return jsonify({"url": _rt().settings.public_url + url, "expires_in": _rt().settings.signed_url_ttl,
                    "created_at": datetime.now(UTC).isoformat()})
