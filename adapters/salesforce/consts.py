"""Salesforce facts the adapter, the receiver and the tests share; each is written here once."""

from __future__ import annotations

from ..client import CallLimit

PLATFORM = "salesforce"
# Sent as ``Sforce-Call-Options: client=cem-connector`` on every REST write; Change Data Capture echoes
# it in ``changeOrigin``, which is how the receiver recognises the connector's own writes.
CALL_OPTIONS_CLIENT = "cem-connector"
CALL_OPTIONS = f"client={CALL_OPTIONS_CLIENT}"
INTEGRATION_USER_SETTING = "integration_user_id"  # changes made by this user are the connector's own
COLLECTION_LIMIT = 200  # sObject Collections (composite/sobjects) take at most 200 records a call
OBJECT_PREFIXES = {"003": "Contact", "00Q": "Lead"}  # record id key prefixes of the objects read and written

# Published request limits (Salesforce App Limits cheatsheet, "API Request Limits and Allocations"; docs/capacity.md).
# The daily API request allocation is per org over a rolling 24 h: about 100,000 plus per-licence add-ons. The
# Sforce-Limit-Info header reports the org's real total, and the connector takes a share of it
# (``daily_api_budget``, 80 % by default), so the org's other integrations keep the rest.
DAILY_ALLOCATION = CallLimit(100_000, 86_400.0, "daily API request allocation")
# Concurrent long-running requests (20 s or more): 25 in production and sandboxes, 5 in Developer Edition and
# trial orgs. The connector's calls are short batch reads and writes, so it is named here and not paced on.
CONCURRENT_LONG_RUNNING = 25
