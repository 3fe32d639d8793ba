"""OAuth consent flow for platforms whose apps an admin installs with a click (HubSpot public apps).

/oauth/<platform>/start?connection=N   (admin) -> the CRM's consent screen, with a signed `state`
/oauth/<platform>/callback?code&state        -> tokens stored encrypted on connection N
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from adapters.base import ConnectionInfo
from adapters.errors import AdapterError

from ..connections import ConnectionNotFound, get_connection
from ..registry import UnknownPlatform, get_platform
from ..runtime import Runtime
from ..store import Connection
from .auth import require_admin

bp = Blueprint("oauth", __name__, url_prefix="/oauth")
STATE_TTL = 600  # the admin has ten minutes on the consent screen


def _rt() -> Runtime:
    return current_app.extensions["cem"]


def _states() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_rt().settings.signing_key, salt="oauth-state")


def _redirect_uri(platform: str) -> str:
    return f"{_rt().settings.public_url}/oauth/{platform}/callback"


@bp.get("/<platform>/start")
@require_admin
def start(platform: str) -> Response | tuple[str, int]:
    rt = _rt()
    try:
        row = get_connection(rt.store, int(request.args.get("connection", "")))
        adapter_cls = get_platform(platform).adapter_class()
        url = adapter_cls.oauth_authorize_url(row.settings, rt.box.open(row.credentials),
                                              redirect_uri=_redirect_uri(platform),
                                              state=_states().dumps({"c": row.id, "p": platform}),
                                              production=rt.settings.production)
    except (ValueError, ConnectionNotFound, UnknownPlatform, AdapterError) as error:
        return render_template("message.html", message=f"Cannot start the authorization: {error}"), 400
    return redirect(url)


@bp.get("/<platform>/callback")
def callback(platform: str) -> tuple[str, int]:
    rt = _rt()
    if request.args.get("error"):
        return render_template("message.html", message="The CRM reported: " + request.args.get(
            "error_description", request.args["error"])), 400
    try:
        state = _states().loads(request.args.get("state", ""), max_age=STATE_TTL)
    except SignatureExpired:
        return render_template("message.html", message="The authorization took too long; start it again."), 400
    except BadSignature:
        return render_template("message.html", message="Invalid authorization state; start it again."), 400
    if state.get("p") != platform or not request.args.get("code"):
        return render_template("message.html", message="Invalid authorization callback."), 400
    try:
        adapter_cls = get_platform(platform).adapter_class()
        row = get_connection(rt.store, int(state["c"]))
        credentials = adapter_cls.oauth_complete(row.settings, rt.box.open(row.credentials),
                                                 code=request.args["code"], redirect_uri=_redirect_uri(platform),
                                                 production=rt.settings.production)
        facts = adapter_cls(ConnectionInfo(row.id, platform, row.settings, credentials,
                                           production=rt.settings.production)).check_connection()
    except (ConnectionNotFound, UnknownPlatform, AdapterError) as error:
        return render_template("message.html", message=f"Authorization failed: {error}"), 400
    with rt.store.session() as session:
        fresh = session.get(Connection, row.id)
        assert fresh is not None
        fresh.credentials = rt.box.seal(credentials)
        fresh.account_id = str(facts.get("account_id") or fresh.account_id or "") or None
    from ..jobs import resume_connection  # jobs pull in the engine; only an OAuth callback needs them here

    resume_connection(rt, row.id)  # a connection stopped by refused credentials picks up where it stopped
    return render_template("message.html", message=f"Connected: {get_platform(platform).label} account "
                                                   f"{facts.get('account_id', '')} is authorized."), 200
