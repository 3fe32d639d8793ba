"""Salesforce: REST, SOQL and the Tooling API through simple-salesforce (see ``adapter``)."""

from .adapter import SalesforceAdapter

__all__ = ["SalesforceAdapter"]
