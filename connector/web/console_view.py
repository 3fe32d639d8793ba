"""The admin console's view-model: collect_status() output -> what the console shows, in words."""

from __future__ import annotations

import re
from typing import Any

from adapters.fields import FIELDS_BY_KEY

from ..registry import UnknownPlatform, get_platform
from . import words as w

# What to do about a dead letter, by the adapter error class that caused it (adapters/errors.py).
ADVICE = {
    "AuthenticationError": "The CRM rejected the connector's credentials. Reconnect with `cem-connector connect`, "
                           "then replay.",
    "PermissionDenied": "The integration user lacks a permission (or the CEM fields are hidden from it). Grant it "
                        "in the CRM, re-run the field install below, then replay.",
    "ConfigurationError": "A connection setting is wrong; the message names it. Fix it with "
                          "`cem-connector connect`, then replay.",
    "NotFound": "The record or a CEM field is gone from the CRM. If a field is missing, re-run the field "
                "install below; a deleted record needs nothing.",
    "RateLimited": "The CRM's API limit was reached. Replay after the limit resets; consider a lower "
                   "daily_api_budget for this connection.",
    "BudgetExhausted": "Today's API budget for this connection is used up. Replay tomorrow, or raise "
                       "daily_api_budget.",
    "TransientError": "The CRM did not answer in time, even after retries. Replay; if it keeps happening, check "
                      "the CRM's status page.",
    "InvalidRequest": "The CRM refused the data. Check that the CEM fields match (re-run the field install), "
                      "then replay.",
}
KINDS = {"AuthenticationError": "credentials refused", "PermissionDenied": "permission missing",
         "ConfigurationError": "setting wrong", "NotFound": "not found in the CRM", "RateLimited": "API limit reached",
         "BudgetExhausted": "daily budget used up", "TransientError": "CRM unavailable",
         "InvalidRequest": "data refused"}
DEFAULT_ADVICE = "Read the message, fix the cause in the CRM or the connection, then replay."
JOBS = {"write": "writing fields", "refresh": "reading the contact", "process_events": "handling webhook events",
        "reconcile_connection": "catching up on missed changes"}
ACTIONS = {"written": "Fields written", "unchanged": "Analysed, nothing new to write", "failed": "Failed",
           "skipped_own": "Ignored our own write", "received": "Webhook received", "install": "Field install"}


def console_model(status: dict[str, Any], names: dict[tuple[int, str], str] | None = None) -> dict[str, Any]:
    """``names``: (connection id, contact id) -> the person's name, for the error and activity lists."""
    names = names or {}
    connections = [_connection(c) for c in status.get("connections") or []]
    queue = status.get("queue") or {}
    throughput = status.get("throughput") or {}
    return {
        "connections": connections,
        "labels": {c["id"]: c["label"] for c in connections},
        "queue": {"error": queue.get("error"), "waiting": queue.get("queued", 0), "running": queue.get("started", 0),
                  "scheduled": queue.get("scheduled", 0), "failed": queue.get("failed", 0)},
        "throughput": throughput,
        "errors": [_error(e, connections, names) for e in status.get("errors") or []],
        "recent": [_activity(a, connections, names) for a in status.get("recent") or []],
        "totals": {"analysed": sum(c["analysed"] for c in connections),
                   "written": sum(c["written"] for c in connections),
                   "dead": sum(c["dead_letters"] for c in connections)},
    }


def _label(connection: dict[str, Any]) -> str:
    try:
        platform = get_platform(connection["platform"]).label
    except UnknownPlatform:
        platform = w.humanize(connection["platform"])
    return f"{platform} · {connection['name']}"


def _connection(c: dict[str, Any]) -> dict[str, Any]:
    health, health_word = _health(c)
    return {
        "id": c["id"], "label": _label(c), "platform": c["platform"], "account": c.get("account_id") or "",
        "active": c.get("active", True), "health": health, "health_word": health_word,
        "analysed": c.get("contacts_analysed", 0), "written": c.get("contacts_written", 0),
        "dead_letters": c.get("dead_letters", 0), "failures_24h": c.get("failures_24h", 0),
        "last_webhook": w.ago(c.get("last_webhook")), "last_webhook_at": w.stamp(c.get("last_webhook")),
        "last_write": w.ago(c.get("last_write")), "last_write_at": w.stamp(c.get("last_write")),
        "webhook_url": c.get("webhook_url", ""),
        "budget": _budget(c), "backfill": _progress(c.get("backfill")), "reconcile": _progress(c.get("reconcile")),
        "install": ({"when": w.ago(c["install"]["at"]), "at": w.stamp(c["install"]["at"]),
                     "detail": c["install"]["detail"]} if c.get("install") else None),
    }


def _health(c: dict[str, Any]) -> tuple[str, str]:
    if not c.get("active", True):
        return "idle", "Paused"
    if c.get("failures_24h"):
        return "bad", f"{c['failures_24h']} failure(s) in 24 h"
    if c.get("dead_letters"):
        return "warn", "Dead letters waiting"
    if not c.get("last_webhook") and not c.get("last_write"):
        return "idle", "No traffic yet"
    return "good", "Healthy"


def _budget(c: dict[str, Any]) -> dict[str, Any]:
    """Calls today against the daily budget: the connection's own setting, else what the CRM reported."""
    limits = c.get("api_limits") or {}
    calls = int(c.get("api_calls_today") or 0)
    budget = w.to_number(c.get("daily_api_budget")) if not str(c.get("daily_api_budget") or "").endswith("%") else None
    budget = budget or w.to_number(limits.get("budget")) or w.to_number(limits.get("daily")) \
        or w.to_number(limits.get("limit") if "used" in limits else None)
    used = w.to_number(limits.get("used"))  # org-wide use, when the CRM reports it (all integrations together)
    share = min(1.0, calls / budget) if budget else None
    return {"calls": calls, "budget": int(budget) if budget else None, "share": share,
            "percent": (("under 1" if 0 < share < 0.01 else round(share * 100)) if share is not None else None),
            "width": round(160 * share, 1) if share is not None else 0,
            "cls": "bad" if share is not None and share >= 0.9 else "warn" if share is not None and share >= 0.7
            else "", "org_used": int(used) if used is not None else None}


def _progress(cursor: dict[str, Any] | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    processed, total = int(cursor.get("processed") or 0), cursor.get("total")
    done = cursor.get("status") == "done"
    if done:
        text = f"Finished: {processed:,} contacts"
    elif total:
        text = f"{processed:,} of {int(total):,} contacts ({min(100, round(processed * 100 / int(total)))} %)"
    else:
        text = f"{processed:,} contacts so far (the CRM does not say how many in total)"
    share = 1.0 if done else (min(1.0, processed / int(total)) if total else None)
    return {"done": done, "text": text, "width": round(160 * share, 1) if share is not None else None,
            "when": w.ago(cursor.get("updated_at")), "at": w.stamp(cursor.get("updated_at"))}


def _error(e: dict[str, Any], connections: list[dict[str, Any]], names: dict[tuple[int, str], str]) -> dict[str, Any]:
    kind, _, message = str(e.get("error") or "").partition(": ")
    return {"id": e["id"], "connection": _name_of(e.get("connection_id"), connections),
            "contact_id": e.get("contact_id"), "connection_id": e.get("connection_id"),
            "contact": _person(e, names),
            "job": JOBS.get(str(e.get("job")), w.humanize(e.get("job"))),
            "message": message or kind, "kind": (KINDS.get(kind) or _words(kind)) if message else "",
            "advice": ADVICE.get(kind, DEFAULT_ADVICE), "attempts": e.get("attempts", 1),
            "when": w.ago(e.get("at")), "at": w.stamp(e.get("at"))}


def _activity(a: dict[str, Any], connections: list[dict[str, Any]], names: dict[tuple[int, str], str]
              ) -> dict[str, Any]:
    detail = str(a.get("detail") or "")
    if a.get("action") == "written":  # the detail lists field keys: name them as the CRM does
        keys = [k for k in detail.split(", ") if k]
        detail = f"{len(keys)} CEM fields" if len(keys) > 3 else ", ".join(
            FIELDS_BY_KEY[k].label if k in FIELDS_BY_KEY else w.humanize(k) for k in keys)
    return {"what": ACTIONS.get(str(a.get("action")), w.humanize(a.get("action"))), "detail": detail,
            "connection": _name_of(a.get("connection_id"), connections), "contact_id": a.get("contact_id"),
            "contact": _person(a, names),
            "connection_id": a.get("connection_id"), "bad": a.get("action") == "failed",
            "when": w.ago(a.get("at")), "at": w.stamp(a.get("at"))}


def _name_of(connection_id: Any, connections: list[dict[str, Any]]) -> str:
    return next((c["label"] for c in connections if c["id"] == connection_id), f"connection {connection_id}")


def _person(row: dict[str, Any], names: dict[tuple[int, str], str]) -> str:
    contact_id = row.get("contact_id")
    if not contact_id:
        return ""
    return names.get((row.get("connection_id"), contact_id)) or f"contact {contact_id}"


def _words(class_name: str) -> str:
    """'SomeNewError' -> 'some new error'."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", class_name).lower()
