"""Salesforce facts the adapter, the receiver and the tests share; each is written here once."""

from __future__ import annotations

PLATFORM = "salesforce"
# Sent as ``Sforce-Call-Options: client=cem-connector`` on every REST write; Change Data Capture echoes
# it in ``changeOrigin``, which is how the receiver recognises the connector's own writes.
CALL_OPTIONS_CLIENT = "cem-connector"
CALL_OPTIONS = f"client={CALL_OPTIONS_CLIENT}"
INTEGRATION_USER_SETTING = "integration_user_id"  # changes made by this user are the connector's own
COLLECTION_LIMIT = 200  # sObject Collections (composite/sobjects) take at most 200 records a call
OBJECT_PREFIXES = {"003": "Contact", "00Q": "Lead"}  # record id key prefixes of the objects read and written
